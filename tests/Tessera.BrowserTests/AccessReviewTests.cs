using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// A review campaign end to end in the Back Office: an administrator creates it, a reviewer without any privilege finds
/// it under Reviews and marks keep and revoke, the administrator closes it, and the revoked role is gone.
/// </summary>
public sealed class AccessReviewTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Access-Review-Password-1";

    private TesseraApp App => host.App;

    [Fact]
    public async Task An_administrator_runs_a_campaign_that_a_reviewer_decides_and_closing_removes_the_revoked_role()
    {
        var role = $"Payments-{Guid.NewGuid().ToString("N")[..8]}";
        using (var api = await Seed.AdminApiAsync(App))
        {
            var created = await api.PostAsJsonAsync("/api/v1/roles", new { name = role, description = "Pays out", privileges = new[] { Privileges.ViewAuditLog } });
            Assert.True(created.IsSuccessStatusCode, $"{(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        }

        var stays = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var leaves = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        var reviewer = await Seed.UserAsync(App, UserType.BackOffice, Password);

        var admins = await host.NewPageAsync();
        await SignInAsync(admins, admin.Username, Password);
        await admins.GotoAsync("/admin/reviews");
        await admins.FillAsync("#review-name", "Payments Q3");
        await admins.CheckAsync($"#review-roles input[value='{role}']");
        await admins.FillAsync("#review-reviewers", reviewer.Username);
        await admins.ClickAsync("#create-review");
        await Expect(admins.Locator("#notice")).ToContainTextAsync("was created with 2 items");
        await Expect(admins.Locator("#review-progress")).ToHaveAttributeAsync("aria-valuenow", "0");
        await Expect(admins.Locator("#review-progress")).ToHaveAttributeAsync("aria-valuemax", "2");
        // The administrator governs but does not review: no Keep or Revoke.
        await Expect(admins.Locator("#review-items button.keep")).ToHaveCountAsync(0);
        var reviewUrl = admins.Url;

        var reviewers = await host.NewPageAsync();
        await SignInAsync(reviewers, reviewer.Username, Password);
        await reviewers.ClickAsync("#side-menu a[href='/admin/reviews']");
        await reviewers.ClickAsync("#reviews-mine a:text('Payments Q3')");
        await reviewers.Locator($"#review-items tr[data-user='{stays.Username}'] button.keep").ClickAsync();
        await Expect(reviewers.Locator("#progress-text")).ToContainTextAsync("1 of 2 decided");
        await reviewers.Locator($"#review-items tr[data-user='{leaves.Username}'] button.revoke").ClickAsync();
        await Expect(reviewers.Locator("#progress-text")).ToContainTextAsync("2 of 2 decided: 1 keep, 1 revoke, 0 pending");
        await Expect(reviewers.Locator("#review-progress")).ToHaveAttributeAsync("aria-valuenow", "2");
        await Expect(reviewers.Locator("#close-review")).ToHaveCountAsync(0);
        await reviewers.ClickAsync("a[data-filter='revoke']");
        await Expect(reviewers.Locator("#review-items tbody tr[data-item]")).ToHaveCountAsync(1);
        await reviewers.ClickAsync("a[data-filter='all']");
        await Screenshot(reviewers, "access-review");

        var phone = await host.NewPageAsync(390, 844);
        await SignInAsync(phone, reviewer.Username, Password);
        await phone.GotoAsync(reviewUrl);
        Assert.True(await phone.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"),
            $"page is {await phone.EvaluateAsync<int>("document.documentElement.scrollWidth")} px wide at 390 px");

        await admins.GotoAsync(reviewUrl);
        await admins.ClickAsync("#close-review");
        await Expect(admins.Locator(".field-error")).ToContainTextAsync("Tick the box");
        await admins.CheckAsync("#confirm-close");
        await admins.ClickAsync("#close-review");
        await Expect(admins.Locator("#notice")).ToContainTextAsync("1 revoked");
        await Expect(admins.Locator("#review-status")).ToContainTextAsync("closed");
        await Expect(admins.Locator($"#review-items tr[data-user='{leaves.Username}'] td.outcome")).ToHaveTextAsync("applied");
        await Expect(admins.Locator($"#review-items tr[data-user='{stays.Username}'] td.outcome")).ToHaveTextAsync("kept");

        await using var scope = App.Scope(out var db);
        var normalized = role.ToUpperInvariant();
        Assert.False(await db.UserRoles.AnyAsync(r => r.UserId == leaves.Id && r.Role!.NormalizedName == normalized));
        Assert.True(await db.UserRoles.AnyAsync(r => r.UserId == stays.Id && r.Role!.NormalizedName == normalized));

        // The campaign is closed: the reviewer sees the outcome and no more buttons.
        await reviewers.GotoAsync(reviewUrl);
        await Expect(reviewers.Locator("#review-items button.revoke")).ToHaveCountAsync(0);
        await Expect(reviewers.Locator($"#review-items tr[data-user='{leaves.Username}'] td.outcome")).ToHaveTextAsync("applied");
    }
}
