using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Customers;
using Tessera.Server.Roles;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>Agent assist in a real browser: the administrator scopes an agent, the agent acts as a customer.</summary>
public sealed class AgentAssistTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string AgentPassword = "Agent-Password-2026-x";

    private TesseraApp App => host.App;

    [Fact]
    public async Task An_agent_scoped_by_the_admin_finds_only_assigned_customers_and_acts_as_one_with_a_reason()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var assigned = await CreateCustomerAsync($"C-{suffix}-A", "Ada", $"Assigned{suffix}");
        var other = await CreateCustomerAsync($"C-{suffix}-B", "Bob", $"Other{suffix}");
        var role = $"Agents-{suffix}";
        await using (var scope = App.Services.CreateAsyncScope())
        {
            var created = await scope.ServiceProvider.GetRequiredService<RoleService>()
                .CreateAsync(new RoleRequest(role, "Storefront agents", [Privileges.AgentAssist], []), CancellationToken.None);
            Assert.True(created.Succeeded, created.Failure?.Detail);
        }

        var agent = await Seed.UserAsync(App, UserType.BackOffice, AgentPassword, role);

        // The administrator limits the agent to one assigned customer on the user details page.
        var admin = await host.NewPageAsync();
        await SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await admin.GotoAsync($"/admin/users/{agent.Id}");
        await Expect(admin.Locator("#agent-assist")).ToBeVisibleAsync();
        await admin.CheckAsync("#agent-scope-assigned");
        await admin.FillAsync("#add-customers", "NO-SUCH-CUSTOMER");
        await admin.ClickAsync("#save-agent");
        await Expect(admin.Locator("#addCustomers-error")).ToContainTextAsync("NO-SUCH-CUSTOMER");
        await admin.FillAsync("#add-customers", assigned.Reference.ToLowerInvariant());
        await admin.ClickAsync("#save-agent");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("customers were saved");
        await Expect(admin.Locator($"label[data-customer='{assigned.Reference}'] input")).ToBeCheckedAsync();
        await Expect(admin.Locator("#agent-scope-assigned")).ToBeCheckedAsync();

        // The agent sees Agent assist in the menu, and only the assigned customer.
        var page = await host.NewPageAsync();
        await SignInAsync(page, agent.Username, AgentPassword);
        await page.Locator("#side-menu").GetByRole(AriaRole.Link, new() { Name = "Agent assist", Exact = true }).ClickAsync();
        await page.FillAsync("#q", suffix);
        await page.ClickAsync("#search");
        await Expect(page.Locator("#customers tbody tr[data-reference]")).ToHaveCountAsync(1);
        await Expect(page.Locator($"#customers tr[data-reference='{assigned.Reference}']")).ToBeVisibleAsync();
        await Expect(page.Locator($"#customers tr[data-reference='{other.Reference}']")).ToHaveCountAsync(0);

        // Acting needs a reason; with one, the agent gets a storefront token, its expiry and link.
        await page.Locator($"#customers tr[data-reference='{assigned.Reference}'] a.act-as").ClickAsync();
        await Expect(page.Locator("#act-reference")).ToHaveTextAsync(assigned.Reference);
        await page.ClickAsync("#act");
        await Expect(page.Locator("#reason-error")).ToContainTextAsync("reason");
        await page.FillAsync("#reason", "Customer called: cannot finish checkout");
        await page.ClickAsync("#act");
        await Expect(page.Locator("#issued-reference")).ToHaveTextAsync(assigned.Reference);
        await Expect(page.Locator("#issued-expiry")).Not.ToBeEmptyAsync();
        var token = await page.Locator("#issued-token").InputValueAsync();
        Assert.Equal(3, token.Split('.').Length);
        var link = await page.Locator("#storefront-link").GetAttributeAsync("href");
        Assert.Equal($"{BrowserHost.StorefrontUrl}?agent_token={token}", link);
        await Screenshot(page, "agent-assist");

        using var payload = JsonDocument.Parse(WebEncoders.Base64UrlDecode(token.Split('.')[1]));
        var claims = payload.RootElement;
        Assert.Equal(assigned.Id.ToString(), claims.GetProperty("sub").GetString());
        Assert.Equal(agent.Username, claims.GetProperty("act").GetProperty("preferred_username").GetString());
        Assert.Equal(agent.Id.ToString(), claims.GetProperty("act").GetProperty("sub").GetString());
        var audience = claims.GetProperty("aud");
        Assert.Equal("storefront", audience.ValueKind == JsonValueKind.Array ? audience[0].GetString() : audience.GetString());
        var expiry = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("exp").GetInt64());
        Assert.InRange(expiry, DateTimeOffset.UtcNow.AddMinutes(5), DateTimeOffset.UtcNow.AddMinutes(11));

        await using (var scope = App.Scope(out var db))
        {
            var started = await db.AuditEvents.Where(e => e.Action == "agent.impersonation_started" && e.TargetId == assigned.Id.ToString()).ToListAsync();
            var audited = Assert.Single(started);
            Assert.Equal(agent.Id, audited.ActorId);
            Assert.Contains("cannot finish checkout", audited.Details, StringComparison.Ordinal);
        }

        // A customer outside the scope is refused with the service's message, even when asked for by hand.
        await page.GotoAsync($"/agent?customer={Uri.EscapeDataString(other.Reference)}");
        await page.FillAsync("#reason", "Trying anyway");
        await page.ClickAsync("#act");
        await Expect(page.Locator(".error-summary")).ToContainTextAsync("No customer with this reference is in the agent's scope");
        await Expect(page.Locator("#issued")).ToHaveCountAsync(0);

        // Without AGENT_ASSIST the page is forbidden and the menu has no entry.
        var plain = await Seed.UserAsync(App, UserType.BackOffice, AgentPassword);
        var outsider = await host.NewPageAsync();
        await SignInAsync(outsider, plain.Username, AgentPassword);
        await Expect(outsider.GetByRole(AriaRole.Link, new() { Name = "Agent assist", Exact = true })).ToHaveCountAsync(0);
        var response = await outsider.GotoAsync("/agent");
        Assert.Equal(403, response!.Status);
        await Expect(outsider.Locator("#forbidden")).ToBeVisibleAsync();
    }

    private async Task<CustomerResponse> CreateCustomerAsync(string reference, string firstName, string lastName)
    {
        await using var scope = App.Services.CreateAsyncScope();
        var created = await scope.ServiceProvider.GetRequiredService<CustomerService>().CreateAsync(
            new CreateCustomerRequest(reference, $"{reference.ToLowerInvariant()}@shop.test", firstName, lastName, null), CancellationToken.None);
        Assert.True(created.Succeeded, created.Failure?.Detail);
        return created.Value!;
    }
}
