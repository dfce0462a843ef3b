using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// Four-eyes approval in the Back Office: a maker grants a role flagged "requires approval" and is told it was sent
/// for approval; a checker finds it on the Approvals page, reads what would change, and approves it.
/// </summary>
public sealed class ApprovalsTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Approvals-Page-Password-1";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_maker_sends_a_grant_for_approval_and_a_checker_approves_it_from_the_diff()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var teller = Seed.Unique("Teller");
        await Expect201Async(admin.PostAsJsonAsync("/api/v1/roles", new { name = teller, description = "Counter staff", privileges = new[] { Privileges.ViewAuditLog }, requiresApproval = true }));
        var makerRole = Seed.Unique("Onboarding");
        await Expect201Async(admin.PostAsJsonAsync("/api/v1/roles", new
        {
            name = makerRole, description = "Onboards staff", privileges = new[] { Privileges.ViewUsers, Privileges.ManageUsers, Privileges.ViewRoles, Privileges.ViewAuditLog },
        }));
        var target = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var maker = await Seed.UserAsync(App, UserType.BackOffice, Password, makerRole);
        var checker = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        var policy = await admin.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "grant_role" } });
        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);
        try
        {
            var makers = await host.NewPageAsync();
            await SignInAsync(makers, maker.Username, Password);
            await makers.GotoAsync($"/admin/users/{target.Id}");
            await makers.Locator($"#roles-form label[data-role='{teller}'] input").CheckAsync();
            await makers.ClickAsync("#change-roles");
            await Expect(makers.Locator("#notice")).ToContainTextAsync("Sent for approval");
            await Expect(makers.Locator("#change-request-link")).ToBeVisibleAsync();
            Assert.DoesNotContain(teller, await RolesAsync(target.Id));

            // The maker's own view of the request: no Approve button, a Withdraw one.
            await makers.ClickAsync("#change-request-link");
            var own = makers.Locator("section.change-request").First;
            await Expect(own.Locator("button[id^=withdraw-]")).ToBeVisibleAsync();
            await Expect(own.Locator("button[id^=approve-]")).ToHaveCountAsync(0);

            var checkers = await host.NewPageAsync();
            await SignInAsync(checkers, checker.Username, Password);
            await Expect(checkers.Locator("#pending-count")).ToBeVisibleAsync();
            await checkers.GotoAsync("/admin/approvals");
            var request = checkers.Locator("section.change-request", new() { HasText = maker.Username });
            await Expect(request).ToHaveCountAsync(1);
            await Expect(request.Locator(".diff-added")).ToContainTextAsync(teller);
            await Expect(request.Locator(".maker")).ToHaveTextAsync(maker.Username);
            await request.Locator("input[name=Comment]").FillAsync("Checked with the branch manager");
            await Screenshot(checkers, "approvals");

            await request.Locator("button[id^=approve-]").ClickAsync();
            await Expect(checkers.Locator("#notice")).ToContainTextAsync("Approved");
            await Expect(checkers.Locator("section.change-request[data-status=approved] .checker")).ToContainTextAsync(checker.Username);
            Assert.Contains(teller, await RolesAsync(target.Id));
        }
        finally
        {
            await using var scope = App.Scope(out var db);
            await db.Settings.Where(s => s.Key == "approval_policy").ExecuteDeleteAsync();
        }
    }

    private static async Task Expect201Async(Task<HttpResponseMessage> sent)
    {
        var response = await sent;
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private async Task<List<string>> RolesAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        return await db.UserRoles.Where(r => r.UserId == userId).Select(r => r.Role!.Name).ToListAsync();
    }
}
