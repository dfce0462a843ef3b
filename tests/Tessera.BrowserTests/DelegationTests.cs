using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// The delegation rules as the Back Office shows them: a user manager sees which roles they cannot hand out
/// and why, cannot act on an administrator's account, and nobody is offered to delete themselves.
/// </summary>
public sealed class DelegationTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string ManagerPassword = "Manager-Password-2026-x";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_user_manager_cannot_hand_out_the_administrator_role_nor_touch_an_administrator_account()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var managers = $"UserManagers-{suffix}";
        using (var api = await Seed.AdminApiAsync(App))
        {
            var created = await api.PostAsJsonAsync("/api/v1/roles", new
            {
                name = managers,
                description = "Manage users, nothing more",
                privileges = new[] { Privileges.ManageUsers, Privileges.ViewUsers, Privileges.ViewRoles },
                rules = Array.Empty<object>(),
            });
            Assert.True(created.IsSuccessStatusCode, $"{(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        }

        var manager = await Seed.UserAsync(App, UserType.BackOffice, ManagerPassword, managers);
        var plain = await Seed.UserAsync(App, UserType.BackOffice, null);
        var adminId = await AdminIdAsync();

        var page = await host.NewPageAsync();
        await SignInAsync(page, manager.Username, ManagerPassword);

        // A plain user: the manager may change the account, but not give it the Administrator role.
        await page.GotoAsync($"/admin/users/{plain.Id}");
        var administrator = page.Locator($"label[data-role='{BuiltInRoles.Administrator}'] input");
        await Expect(administrator).ToBeDisabledAsync();
        await Expect(administrator).ToHaveAttributeAsync("aria-describedby", $"role-reason-{BuiltInRoles.Administrator}");
        var reason = page.Locator($"#role-reason-{BuiltInRoles.Administrator}");
        await Expect(reason).ToBeVisibleAsync();
        await Expect(reason).ToContainTextAsync("beyond your own privileges");
        await Expect(reason).ToContainTextAsync(Privileges.ManageRoles);
        await Expect(reason).Not.ToContainTextAsync(Privileges.ManageUsers);
        await Expect(page.Locator($"label[data-role='{managers}'] input")).ToBeEnabledAsync();
        await Expect(page.Locator($"#role-reason-{managers}")).ToHaveCountAsync(0);
        await Expect(page.Locator("#password-form")).ToBeVisibleAsync();
        await Expect(page.Locator("#delete-user")).ToBeVisibleAsync();
        await Expect(page.Locator("#outranks-notice")).ToHaveCountAsync(0);

        // The same on the "Add user" form.
        await page.GotoAsync("/admin/users/new");
        await Expect(page.Locator($"#new-user label[data-role='{BuiltInRoles.Administrator}'] input")).ToBeDisabledAsync();
        await Expect(page.Locator($"#role-reason-{BuiltInRoles.Administrator}")).ToBeVisibleAsync();

        // The administrator outranks the manager: nothing is offered, and the page says why.
        await page.GotoAsync($"/admin/users/{adminId}");
        var notice = page.Locator("#outranks-notice");
        await Expect(notice).ToBeVisibleAsync();
        await Expect(notice).ToContainTextAsync($"{TesseraApp.AdminUsername} holds");
        await Expect(notice).ToContainTextAsync(Privileges.ManageRoles);
        await Expect(notice).ToContainTextAsync("you cannot change this account");
        await Screenshot(page, "user-outranked");
        foreach (var absent in new[] { "#password-form", "#newPassword", "#resend-invitation", "#unlock", "#delete-user", "#save-details", "#change-roles" })
        {
            await Expect(page.Locator(absent)).ToHaveCountAsync(0);
        }

        await Expect(page.Locator("#username")).ToBeDisabledAsync();
        await Expect(page.Locator($"label[data-role='{BuiltInRoles.Administrator}'] input")).ToBeDisabledAsync();

        // The manager's own page: no delete, no administrator's password form, no Enabled box to untick.
        await page.GotoAsync($"/admin/users/{manager.Id}");
        await Expect(page.Locator("#outranks-notice")).ToHaveCountAsync(0);
        await Expect(page.Locator("#delete-card")).ToHaveCountAsync(0);
        await Expect(page.Locator("#password-form")).ToHaveCountAsync(0);
        await Expect(page.Locator("#own-password a[href='/profile']")).ToBeVisibleAsync();
        await Expect(page.Locator("#enabled")).ToBeDisabledAsync();
        await Expect(page.Locator("#enabled-reason")).ToBeVisibleAsync();
        await Expect(page.Locator("#change-roles")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task The_administrator_is_not_offered_to_delete_their_own_account()
    {
        var adminId = await AdminIdAsync();
        var page = await host.NewPageAsync();
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync($"/admin/users/{adminId}");
        await Expect(page.Locator("#subject-username")).ToHaveTextAsync(TesseraApp.AdminUsername);
        await Expect(page.Locator("#delete-card")).ToHaveCountAsync(0);
        await Expect(page.Locator("#delete-user")).ToHaveCountAsync(0);
        await Expect(page.Locator("#password-form")).ToHaveCountAsync(0);
        await Expect(page.Locator("#enabled")).ToBeDisabledAsync();
        await Expect(page.Locator("#enabled-reason")).ToContainTextAsync("your own account");
        await Expect(page.Locator("#outranks-notice")).ToHaveCountAsync(0);

        // Saving one's own details leaves the account enabled although the disabled box is not posted.
        await page.FillAsync("#firstName", "Ada");
        await page.ClickAsync("#save-details");
        await Expect(page.Locator("#notice")).ToContainTextAsync("details were saved");
        await Expect(page.Locator("#subject-status")).ToHaveTextAsync("active");
        await Expect(page.Locator("#enabled")).ToBeCheckedAsync();
        await page.FillAsync("#firstName", "Administrator"); // as it was, for the other test's screenshot
        await page.ClickAsync("#save-details");
        await Expect(page.Locator("#notice")).ToContainTextAsync("details were saved");
    }

    [Fact]
    public async Task A_role_and_group_manager_cannot_add_privileges_beyond_their_own_but_may_take_them_away()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var curators = $"Curators-{suffix}";
        var userManagers = $"Managers-{suffix}";
        using (var api = await Seed.AdminApiAsync(App))
        {
            foreach (var (name, privileges) in new[]
            {
                (curators, new[] { Privileges.ManageRoles, Privileges.ViewRoles, Privileges.ManageGroups, Privileges.ViewUsers }),
                (userManagers, new[] { Privileges.ManageUsers, Privileges.ViewUsers }),
            })
            {
                var created = await api.PostAsJsonAsync("/api/v1/roles", new { name, description = "", privileges, rules = Array.Empty<object>() });
                Assert.True(created.IsSuccessStatusCode, $"{(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            }
        }

        var curator = await Seed.UserAsync(App, UserType.BackOffice, ManagerPassword, curators);
        var page = await host.NewPageAsync();
        await SignInAsync(page, curator.Username, ManagerPassword);

        // A new role: a privilege the curator does not hold is disabled with the reason, one they hold is not.
        await page.GotoAsync("/admin/roles/new");
        var manageUsers = page.Locator($"#privileges input[value={Privileges.ManageUsers}]");
        await Expect(manageUsers).ToBeDisabledAsync();
        await Expect(manageUsers).ToHaveAttributeAsync("aria-describedby", $"privilege-reason-{Privileges.ManageUsers}");
        await Expect(page.Locator($"#privilege-reason-{Privileges.ManageUsers}")).ToHaveTextAsync("beyond your own privileges");
        await Expect(page.Locator($"#privileges input[value={Privileges.ViewRoles}]")).ToBeEnabledAsync();

        // A role that has MANAGE_USERS already keeps it ticked, and the curator may take it away.
        await page.GotoAsync("/admin/roles");
        await page.ClickAsync($"#roles tr[data-role='{userManagers}'] a");
        await Expect(manageUsers).ToBeCheckedAsync();
        await Expect(manageUsers).ToBeEnabledAsync();
        await Expect(page.Locator($"#privilege-reason-{Privileges.ManageUsers}")).ToHaveCountAsync(0);
        await Expect(page.Locator($"#privileges input[value={Privileges.AgentAssist}]")).ToBeDisabledAsync();

        // Saving without a change keeps MANAGE_USERS: the enabled box is posted.
        await page.FillAsync("#description", "Manage users");
        await page.ClickAsync("#save-role");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was saved");
        await Expect(manageUsers).ToBeCheckedAsync();

        // A new group: a role beyond the curator is disabled with its reason.
        await page.GotoAsync("/admin/groups/new");
        await Expect(page.Locator($"#group-roles label[data-role='{userManagers}'] input")).ToBeDisabledAsync();
        await Expect(page.Locator($"#role-reason-{userManagers}")).ToContainTextAsync(Privileges.ManageUsers);
        await Expect(page.Locator($"#group-roles label[data-role='{curators}'] input")).ToBeEnabledAsync();
    }

    private async Task<Guid> AdminIdAsync()
    {
        await using var scope = App.Scope(out var db);
        return await db.Users.Where(u => u.Username == TesseraApp.AdminUsername).Select(u => u.Id).SingleAsync();
    }
}
