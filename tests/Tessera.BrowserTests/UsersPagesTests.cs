using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// The users list (filters, total, paging both ways, bulk actions with their per-user results), the user page (groups,
/// failed attempts, only the actions that apply) and the group page (members picked by a search).
/// </summary>
public sealed class UsersPagesTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Users-Pages-Password-2026!";

    private TesseraApp App => host.App;

    /// <summary>Users straight in the store, with this last name (so a filter finds exactly them), in username order.</summary>
    private async Task<List<User>> SeedAsync(string lastName, int count, UserStatus status = UserStatus.Invited)
    {
        await using var scope = App.Scope(out var db);
        var now = DateTime.UtcNow;
        var users = Enumerable.Range(0, count).Select(i =>
        {
            var user = new User
            {
                Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
                Type = UserType.BackOffice, Status = status, CredentialMode = CredentialMode.Password, CreatedAt = now, UpdatedAt = now,
            };
            user.SetUsername($"{lastName.ToLowerInvariant()}.{i:D3}");
            user.SetEmail($"{lastName.ToLowerInvariant()}.{i:D3}@pages.test");
            user.SetNames("Page", lastName);
            return user;
        }).ToList();
        db.Users.AddRange(users);
        await db.SaveChangesAsync();
        return users;
    }

    private static ILocator Rows(IPage page) => page.Locator("#users tbody tr[data-username]");

    [Fact]
    public async Task Each_filter_narrows_the_list_the_total_counts_and_Previous_and_Next_walk()
    {
        var tag = "Flt" + Guid.NewGuid().ToString("N")[..8];
        var many = await SeedAsync(tag, 30);
        string role, group;
        var api = await Seed.UserAsync(App, UserType.Api, null, CredentialMode.Password, $"{tag.ToLowerInvariant()}.api@pages.test", BuiltInRoles.System);
        await Seed.UpdateUserAsync(App, api.Id, u => u.SetNames("Api", tag));
        await Seed.UpdateUserAsync(App, many[0].Id, u => u.Status = UserStatus.Disabled);
        using (var admin = await Seed.AdminApiAsync(App))
        {
            role = "Filterers" + tag;
            group = "Filtered" + tag;
            await admin.PostAsJsonAsync("/api/v1/roles", new { name = role, privileges = new[] { Privileges.ViewUsers } });
            await admin.PutAsJsonAsync($"/api/v1/users/{many[1].Id}/roles", new { roles = new[] { role } });
            await admin.PostAsJsonAsync("/api/v1/groups", new { name = group, userIds = new[] { many[2].Id } });
        }

        var page = await host.NewPageAsync();
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/admin/users?lastName=" + tag);
        await Expect(page.Locator("#users-total")).ToHaveTextAsync("31 users");
        await Expect(page.Locator("#f-username")).ToHaveAttributeAsync("placeholder", "Starts with… (any case)");
        await Expect(Rows(page)).ToHaveCountAsync(25);
        await Expect(page.Locator("#previous-page")).ToHaveCountAsync(0);

        // Next, then Previous: the same first page again, and no Previous on it.
        var first = await Rows(page).First.GetAttributeAsync("data-username");
        await page.ClickAsync("#next-page");
        await Expect(Rows(page)).ToHaveCountAsync(6);
        await Expect(page.Locator("#next-page")).ToHaveCountAsync(0);
        await Expect(page.Locator("#users-total")).ToHaveTextAsync("31 users");
        await page.ClickAsync("#previous-page");
        await Expect(Rows(page)).ToHaveCountAsync(25);
        await Expect(Rows(page).First).ToHaveAttributeAsync("data-username", first!);
        await Expect(page.Locator("#previous-page")).ToHaveCountAsync(0);

        // Each filter of the form narrows the list, and stays filled in.
        async Task FilterAsync(Func<Task> set, int expected, string? only = null)
        {
            await page.GotoAsync("/admin/users?lastName=" + tag);
            await set();
            await page.ClickAsync("#apply-filters");
            await Expect(page.Locator("#users-total")).ToHaveTextAsync(expected == 1 ? "1 user" : $"{expected} users");
            if (only is not null)
            {
                await Expect(Rows(page)).ToHaveCountAsync(1);
                await Expect(Rows(page).First).ToHaveAttributeAsync("data-username", only);
            }
        }

        await FilterAsync(() => page.SelectOptionAsync("#f-status", "disabled"), 1, many[0].Username);
        await FilterAsync(() => page.SelectOptionAsync("#f-type", "api"), 1, api.Username);
        await FilterAsync(() => page.SelectOptionAsync("#f-role", role), 1, many[1].Username);
        await FilterAsync(() => page.SelectOptionAsync("#f-group", group), 1, many[2].Username);
        await FilterAsync(() => page.FillAsync("#f-q", many[3].Username.ToUpperInvariant()[^5..]), 1, many[3].Username);
        await FilterAsync(() => page.SelectOptionAsync("#f-status", "invited"), 30);
        await Expect(page.Locator("#f-status")).ToHaveValueAsync("invited");

        // The username opens the user.
        await page.GotoAsync($"/admin/users?lastName={tag}&username={many[4].Username}");
        await page.Locator("#users a.user-link", new() { HasText = many[4].Username }).ClickAsync();
        await Expect(page.Locator("#subject-username")).ToHaveTextAsync(many[4].Username);

        await page.GotoAsync("/admin/users");
        await page.SetViewportSizeAsync(1280, 900);
        await Screenshot(page, "users");
    }

    [Fact]
    public async Task A_bulk_disable_reports_each_user_and_an_outranking_account_fails_alone()
    {
        var tag = "Blk" + Guid.NewGuid().ToString("N")[..8];
        var managers = "BulkManagers" + tag;
        string viewer = "BulkViewers" + tag;
        using (var admin = await Seed.AdminApiAsync(App))
        {
            await admin.PostAsJsonAsync("/api/v1/roles", new { name = managers, privileges = new[] { Privileges.ManageUsers, Privileges.ViewUsers, Privileges.ViewRoles } });
            await admin.PostAsJsonAsync("/api/v1/roles", new { name = viewer, privileges = new[] { Privileges.ViewUsers } });
        }

        var manager = await Seed.UserAsync(App, UserType.BackOffice, Password, managers);
        var plain = await SeedAsync(tag, 2, UserStatus.Active);
        var boss = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        await Seed.UpdateUserAsync(App, boss.Id, u => u.SetNames("Boss", tag));

        var page = await host.NewPageAsync();
        await SignInAsync(page, manager.Username, Password);
        await page.GotoAsync("/admin/users?lastName=" + tag);
        await Expect(Rows(page)).ToHaveCountAsync(3);
        await page.CheckAsync("#select-all");
        await Expect(page.Locator("input.select-user:checked")).ToHaveCountAsync(3);
        await page.SelectOptionAsync("#bulk-action", "disable");
        await Expect(page.Locator("#bulk-role")).ToBeHiddenAsync();
        await page.ClickAsync("#bulk-apply");

        var results = page.Locator("#bulk-results");
        await Expect(results.Locator("li")).ToHaveCountAsync(3);
        foreach (var user in plain)
        {
            await Expect(results.Locator($"li[data-result='{user.Username}']")).ToHaveAttributeAsync("data-outcome", "done");
        }

        var refused = results.Locator($"li[data-result='{boss.Username}']");
        await Expect(refused).ToHaveAttributeAsync("data-outcome", "failed");
        await Expect(refused).ToContainTextAsync("Failed");
        await Expect(page.Locator("#bulk-summary")).ToHaveTextAsync("2 done, 0 unchanged, 0 sent for approval, 1 failed.");
        await Expect(page.Locator("#bulk-live")).ToContainTextAsync("2 done");
        await Expect(page.Locator($"#users tr[data-username='{plain[0].Username}']")).ToHaveAttributeAsync("data-status", "disabled");
        await Screenshot(page, "users-bulk");
        await using (var scope = App.Scope(out var db))
        {
            var ids = plain.Select(u => u.Id).Append(boss.Id).ToList();
            var stored = await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Status);
            Assert.Equal(UserStatus.Disabled, stored[plain[0].Id]);
            Assert.Equal(UserStatus.Disabled, stored[plain[1].Id]);
            Assert.Equal(UserStatus.Active, stored[boss.Id]);
        }

        // A role in bulk: both plain users get it, the results say so.
        await page.GotoAsync($"/admin/users?lastName={tag}&username={tag.ToLowerInvariant()}");
        await page.CheckAsync("#select-all");
        await page.SelectOptionAsync("#bulk-action", "add_role");
        await Expect(page.Locator("#bulk-role")).ToBeVisibleAsync();
        await page.SelectOptionAsync("#bulk-role", viewer);
        await page.ClickAsync("#bulk-apply");
        await Expect(page.Locator("#bulk-results li[data-outcome='done']")).ToHaveCountAsync(2);
        await Expect(page.Locator($"#users tr[data-username='{plain[1].Username}']")).ToContainTextAsync(viewer);

        // Delete asks for the confirmation first; nothing is deleted without it.
        await page.CheckAsync("#select-all");
        await page.SelectOptionAsync("#bulk-action", "delete");
        await page.ClickAsync("#bulk-apply");
        await Expect(page.Locator("#confirmDelete-error")).ToContainTextAsync("confirm");
        await Expect(Rows(page)).ToHaveCountAsync(2);

        await AssertAccessibleAsync(page);
    }

    [Fact]
    public async Task The_user_page_joins_groups_shows_failed_attempts_and_offers_only_the_actions_that_apply()
    {
        var tag = "Usr" + Guid.NewGuid().ToString("N")[..8];
        var group = "Joiners" + tag;
        using (var admin = await Seed.AdminApiAsync(App))
        {
            await admin.PostAsJsonAsync("/api/v1/groups", new { name = group });
        }

        var person = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var api = await Seed.UserAsync(App, UserType.Api, null, CredentialMode.Password, $"{tag.ToLowerInvariant()}@pages.test", BuiltInRoles.System);
        var page = await host.NewPageAsync();
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);

        // A BackOffice user that is not locked: no Unlock, no System toggle, no resend (active, not invited).
        await page.GotoAsync($"/admin/users/{person.Id}");
        await Expect(page.Locator("#failed-attempts")).ToHaveTextAsync("0");
        await Expect(page.Locator("#locked-until")).ToHaveTextAsync("not locked");
        await Expect(page.Locator("#unlock")).ToHaveCountAsync(0);
        await Expect(page.Locator("#resend-invitation")).ToHaveCountAsync(0);
        await Expect(page.Locator($"label[data-role='{BuiltInRoles.System}']")).ToHaveCountAsync(0);

        // Joining a group from the user page.
        await page.CheckAsync($"label[data-group-toggle='{group}'] input");
        await page.ClickAsync("#change-groups");
        await Expect(page.Locator("#notice")).ToContainTextAsync("groups were changed");
        await Expect(page.Locator($"label[data-group-toggle='{group}'] input")).ToBeCheckedAsync();
        await using (var scope = App.Scope(out var db))
        {
            Assert.True(await db.GroupMembers.AnyAsync(m => m.UserId == person.Id && m.Group!.Name == group));
        }

        // Locked after failed attempts: the count and the end of the lock show, and Unlock is offered and works.
        var until = App.Clock.GetUtcNow().UtcDateTime.AddMinutes(15);
        await Seed.UpdateUserAsync(App, person.Id, u => (u.Status, u.LockedUntil, u.FailedSignInCount) = (UserStatus.Locked, until, 5));
        await page.GotoAsync($"/admin/users/{person.Id}");
        await Expect(page.Locator("#failed-attempts")).ToHaveTextAsync("5");
        await Expect(page.Locator("#locked-until time")).ToHaveAttributeAsync("datetime", new System.Text.RegularExpressions.Regex("^" + until.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture)));
        await page.ClickAsync("#unlock");
        await Expect(page.Locator("#notice")).ToContainTextAsync("unlocked");
        await Expect(page.Locator("#subject-status")).ToHaveTextAsync("active");
        await Expect(page.Locator("#unlock")).ToHaveCountAsync(0);

        // An invited BackOffice user is offered the invitation again; an API user never, and sees its System role.
        var invited = await Seed.UserAsync(App, UserType.BackOffice, null);
        await page.GotoAsync($"/admin/users/{invited.Id}");
        await Expect(page.Locator("#resend-invitation")).ToBeVisibleAsync();
        await page.GotoAsync($"/admin/users/{api.Id}");
        await Expect(page.Locator("#resend-invitation")).ToHaveCountAsync(0);
        await Expect(page.Locator($"label[data-role='{BuiltInRoles.System}'] input")).ToBeCheckedAsync();

        // At creation: a group chosen joins at once.
        var username = "new." + tag.ToLowerInvariant();
        await page.GotoAsync("/admin/users/new");
        await page.FillAsync("#username", username);
        await page.FillAsync("#email", username + "@pages.test");
        await page.CheckAsync($"#new-groups label[data-group='{group}'] input");
        await page.ClickAsync("#create-user");
        await Expect(page.Locator("#subject-username")).ToHaveTextAsync(username);
        await Expect(page.Locator($"label[data-group-toggle='{group}'] input")).ToBeCheckedAsync();
    }

    [Fact]
    public async Task Group_members_are_picked_from_a_search()
    {
        var tag = "Grp" + Guid.NewGuid().ToString("N")[..8];
        var users = await SeedAsync(tag, 3, UserStatus.Active);
        var page = await host.NewPageAsync();
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/admin/groups/new");
        await Expect(page.Locator($"label[data-role='{BuiltInRoles.System}']")).ToHaveCountAsync(0);
        await page.FillAsync("#name", "Picked" + tag);
        await page.FillAsync("#member-search", "nobody-" + tag);
        await page.ClickAsync("#find-members");
        await Expect(page.Locator("#no-candidates")).ToBeVisibleAsync();
        await Expect(page.Locator("#name")).ToHaveValueAsync("Picked" + tag);

        await page.FillAsync("#member-search", tag.ToLowerInvariant());
        await page.ClickAsync("#find-members");
        await Expect(page.Locator("#candidates label[data-candidate]")).ToHaveCountAsync(3);
        await page.CheckAsync($"label[data-candidate='{users[0].Username}'] input");
        await page.CheckAsync($"label[data-candidate='{users[2].Username}'] input");
        await page.ClickAsync("#save-group");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was created");
        await Expect(page.Locator($"label[data-member='{users[0].Username}'] input")).ToBeCheckedAsync();
        await Expect(page.Locator($"label[data-member='{users[2].Username}'] input")).ToBeCheckedAsync();
        await Expect(page.Locator($"label[data-member='{users[1].Username}']")).ToHaveCountAsync(0);

        // A later search leaves the members out.
        await page.FillAsync("#member-search", tag.ToLowerInvariant());
        await page.ClickAsync("#find-members");
        await Expect(page.Locator("#candidates label[data-candidate]")).ToHaveCountAsync(1);
        await AssertAccessibleAsync(page);
    }
}
