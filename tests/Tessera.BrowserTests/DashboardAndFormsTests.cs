using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// The dashboard's figures and their links; the forms of everyday work: focus on the error summary, the set-password
/// page's rules at once, forgot password by username, and the profile's language and time zone.
/// </summary>
public sealed partial class DashboardAndFormsTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Dashboard-Forms-Password-1";

    private TesseraApp App => host.App;

    [GeneratedRegex(@"https?://\S+/set-password\?token=([A-Za-z0-9_\-]+)")]
    private static partial Regex SetPasswordLink();

    [Fact]
    public async Task The_dashboards_figures_count_the_directory_and_each_links_to_its_filtered_list()
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        var locked = new[] { await Seed.UserAsync(App, UserType.BackOffice, Password), await Seed.UserAsync(App, UserType.BackOffice, Password) };
        foreach (var user in locked)
        {
            await Seed.UpdateUserAsync(App, user.Id, u => { u.Status = UserStatus.Locked; u.LockedUntil = null; });
        }

        var disabled = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await Seed.UpdateUserAsync(App, disabled.Id, u => u.Status = UserStatus.Disabled);
        var invited = await Seed.UserAsync(App, UserType.BackOffice, null);
        var page = await host.NewPageAsync();
        await SignInAsync(page, admin.Username, Password);

        await page.GotoAsync("/");
        var expected = await CountsAsync();
        foreach (var (figure, status) in new[] { ("#figure-locked", UserStatus.Locked), ("#figure-disabled", UserStatus.Disabled), ("#figure-invited", UserStatus.Invited), ("#figure-active", UserStatus.Active) })
        {
            await Expect(page.Locator($"{figure} .figure-count")).ToHaveTextAsync(expected[status].ToString("N0", CultureInfo.GetCultureInfo("en")));
        }

        await Expect(page.Locator("#latest-events li").First).ToBeVisibleAsync();
        await Expect(page.Locator("#figure-approvals")).ToHaveAttributeAsync("href", "/admin/approvals");
        await Expect(page.Locator("#figure-expiring")).ToHaveAttributeAsync("href", "/admin/users?expiring=14");
        await Screenshot(page, "dashboard");

        // Each figure lands on the list it counts: the locked ones, and no one else.
        await page.ClickAsync("#figure-locked");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/admin/users\?status=locked$"));
        await Expect(page.Locator("#users tbody tr[data-username]")).ToHaveCountAsync(expected[UserStatus.Locked]);
        foreach (var user in locked)
        {
            await Expect(page.Locator($"#users tbody tr[data-username='{user.Username}']")).ToHaveCountAsync(1);
        }

        await Expect(page.Locator($"#users tbody tr[data-username='{disabled.Username}']")).ToHaveCountAsync(0);
        await page.GotoAsync("/");
        await page.ClickAsync("#figure-invited");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/admin/users\?status=invited$"));
        await Expect(page.Locator($"#users tbody tr[data-username='{invited.Username}']")).ToHaveCountAsync(1);
        await Expect(page.Locator($"#users tbody tr[data-username='{admin.Username}']")).ToHaveCountAsync(0);
        await page.GotoAsync("/");
        await page.ClickAsync("#all-events");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/admin/audit$"));
    }

    [Fact]
    public async Task A_user_without_VIEW_USERS_sees_no_user_counts()
    {
        using var api = await Seed.AdminApiAsync(App);
        var auditorRole = Seed.Unique("auditor");
        await Tessera.Server.Tests.Infrastructure.Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = auditorRole, privileges = new[] { Privileges.ViewAuditLog } }), System.Net.HttpStatusCode.Created);
        var auditor = await Seed.UserAsync(App, UserType.BackOffice, Password, auditorRole);
        var page = await host.NewPageAsync();
        await SignInAsync(page, auditor.Username, Password);

        await Expect(page.Locator("#latest-events")).ToBeVisibleAsync();
        await Expect(page.Locator(".figure")).ToHaveCountAsync(0);

        var plain = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var other = await host.NewPageAsync();
        await SignInAsync(other, plain.Username, Password);
        await Expect(other.Locator("#dashboard-empty")).ToBeVisibleAsync();
        await Expect(other.Locator("#latest-events")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task After_a_failed_submit_the_focus_is_on_the_error_summary()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var page = await host.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.FillAsync("#login", user.Username);
        await page.FillAsync("#password", "wrong-" + Password);
        await page.ClickAsync("button[type=submit].primary");
        await Expect(page.Locator("#signin-error")).ToBeFocusedAsync();

        await SignInAsync(page, user.Username, Password);
        await page.GotoAsync("/profile");
        await page.FillAsync("#currentPassword", Password);
        await page.FillAsync("#newPassword", "short");
        await page.FillAsync("#confirmPassword", "short");
        await page.ClickAsync("#change-own-password");
        await Expect(page.Locator("#error-summary")).ToBeVisibleAsync();
        Assert.Equal("error-summary", await page.EvaluateAsync<string>("() => document.activeElement.id"));
    }

    [Fact]
    public async Task The_set_password_page_shows_policy_errors_and_the_mismatch_together_and_marks_the_username_rule_as_typed()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("setter");
        var email = $"{username}@example.com";
        await api.PostAsJsonAsync("/api/v1/users", new { username, email, type = "backoffice" });
        var invitation = await host.Mail.WaitForMessageAsync(m => m.To.Contains(email, StringComparer.OrdinalIgnoreCase), TimeSpan.FromSeconds(30));
        var link = SetPasswordLink().Match(invitation.Text);
        Assert.True(link.Success, invitation.Text);

        var page = await host.NewPageAsync();
        await page.GotoAsync(link.Value);
        var personal = page.Locator("#password-rules [data-rule=personal]");
        await page.FillAsync("#newPassword", username + "-Extra-Long-1");
        await Expect(personal).Not.ToHaveClassAsync(new Regex(@"\bmet\b"));
        await page.FillAsync("#newPassword", "Quite-Unusual-Words-Here-7");
        await Expect(personal).ToHaveClassAsync(new Regex(@"\bmet\b"));
        await Expect(personal).ToHaveAttributeAsync("aria-label", new Regex(": met$"));
        await Expect(page.Locator("#password-rules [data-rule=common]")).ToContainTextAsync("checked when you save");

        // A short password and a differing confirmation: both refusals in one answer, and the focus on the summary.
        await page.FillAsync("#newPassword", "short");
        await page.FillAsync("#confirmPassword", "other");
        await page.ClickAsync("button[type=submit]");
        await Expect(page.Locator("#newPassword-errors")).ToContainTextAsync("Use at least");
        await Expect(page.Locator("#confirmPassword-error")).ToHaveTextAsync("The confirmation does not match the new password.");
        await Expect(page.Locator("#error-summary")).ToBeFocusedAsync();
    }

    [Fact]
    public async Task Forgot_password_by_username_delivers_the_mail_and_an_unknown_login_gets_the_same_answer_and_none()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var page = await host.NewPageAsync();

        await page.GotoAsync("/forgot-password");
        await page.FillAsync("#login", user.Username);
        await page.ClickAsync("button[type=submit]");
        var answer = await page.Locator("#forgot-sent").TextContentAsync();
        var reset = await host.Mail.WaitForMessageAsync(m => m.To.Contains(user.Email, StringComparer.OrdinalIgnoreCase) && m.Subject.Contains("reset", StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(30));
        var delivered = (await host.Mail.MessagesAsync()).Count;

        await page.GotoAsync("/forgot-password");
        await page.FillAsync("#login", Seed.Unique("nobody"));
        await page.ClickAsync("button[type=submit]");
        await Expect(page.Locator("#forgot-sent")).ToHaveTextAsync(answer!);

        // The sentinel: the same user by email. The dispatcher sends in order, so a mail for the unknown login would have come first.
        await page.GotoAsync("/forgot-password");
        await page.FillAsync("#login", user.Email);
        await page.ClickAsync("button[type=submit]");
        await host.Mail.WaitForMessageAsync(m => m.To.Contains(user.Email, StringComparer.OrdinalIgnoreCase) && m.ReceivedAt > reset.ReceivedAt, TimeSpan.FromSeconds(30));
        Assert.Equal(delivered + 1, (await host.Mail.MessagesAsync()).Count);
    }

    [Fact]
    public async Task Deutsch_and_Europe_Berlin_on_the_profile_make_the_next_pages_German_with_Berlin_times()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var page = await host.NewPageAsync();
        await SignInAsync(page, user.Username, Password);
        await page.GotoAsync("/profile");
        var utcText = await page.Locator("#sessions time").First.TextContentAsync();

        await page.SelectOptionAsync("#language", "de");
        await page.SelectOptionAsync("#timeZone", "Europe/Berlin");
        await page.ClickAsync("#save-preferences");
        await Expect(page.Locator("#preferences-saved")).ToHaveTextAsync("Ihre Sprache und Zeitzone wurden gespeichert.");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Ihr Profil");
        Assert.Equal("de", await page.EvaluateAsync<string>("() => document.documentElement.lang"));

        // The browser asks for English; the profile's choice wins on every page.
        await page.GotoAsync("/");
        await Expect(page.Locator("h1")).ToContainTextAsync("Willkommen");

        // A shown instant is the UTC one moved to Berlin and written the German way.
        await page.GotoAsync("/profile");
        var shown = page.Locator("#sessions time").First;
        var instant = DateTime.Parse((await shown.GetAttributeAsync("datetime"))!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        var berlin = TimeZoneInfo.ConvertTimeFromUtc(instant, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        await Expect(shown).ToHaveTextAsync(berlin.ToString("dd.MM.yyyy HH:mm", CultureInfo.InvariantCulture));
        await Expect(shown).ToHaveAttributeAsync("title", "Europe/Berlin");
        Assert.NotEqual(utcText, await shown.TextContentAsync());
        await Expect(page.Locator("#language")).ToHaveValueAsync("de");
        await Expect(page.Locator("#timeZone")).ToHaveValueAsync("Europe/Berlin");
    }

    private async Task<Dictionary<UserStatus, int>> CountsAsync()
    {
        await using var scope = App.Scope(out var db);
        var now = App.Clock.GetUtcNow().UtcDateTime;
        var counts = new Dictionary<UserStatus, int>();
        foreach (var status in new[] { UserStatus.Invited, UserStatus.Active, UserStatus.Locked, UserStatus.Disabled })
        {
            counts[status] = db.Users.AsEnumerable().Count(u => u.Standing.EffectiveStatus(now) == status);
        }

        return counts;
    }
}
