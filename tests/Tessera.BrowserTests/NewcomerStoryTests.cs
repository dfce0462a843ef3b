using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Server.Roles;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Users;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The Back Office UI end to end, in a real browser: a newcomer's story from invitation to deletion.</summary>
public sealed partial class NewcomerStoryTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string NewcomerPassword = "Newcomer-Password-2026";
    private const string ChosenPassword = "Chosen-Own-Password-2026";
    private const string AdminSetPassword = "Admin-Set-Password-2026";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_newcomer_is_invited_sees_only_what_their_roles_allow_and_is_managed_through_the_UI()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var viewer = await CreateRoleAsync($"Viewer-{suffix}", Privileges.ViewUsers);
        var auditor = await CreateRoleAsync($"Auditor-{suffix}", Privileges.ViewAuditLog);
        var username = $"newcomer.{suffix}";
        var email = $"newcomer.{suffix}@example.test";

        // The administrator signs in and adds a BackOffice user with the viewer role.
        var admin = await host.NewPageAsync();
        await admin.GotoAsync("/signin");
        await Screenshot(admin, "sign-in");
        await SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await admin.GotoAsync("/admin/users");
        await admin.ClickAsync("#add-user");
        await Expect(admin.Locator("label[data-system=true]")).ToBeHiddenAsync();
        await admin.CheckAsync("input[name=Type][value=api]");
        await Expect(admin.Locator("label[data-system=true] input")).ToBeCheckedAsync();
        await Expect(admin.Locator("label[data-system=true] input")).ToBeDisabledAsync();
        await Expect(admin.Locator("#password")).ToBeVisibleAsync();
        await admin.CheckAsync("input[name=Type][value=backoffice]");
        await Expect(admin.Locator("#password")).ToBeHiddenAsync();
        await admin.FillAsync("#username", username);
        await admin.FillAsync("#email", email);
        await admin.FillAsync("#firstName", "Nora");
        await admin.FillAsync("#lastName", $"Newman{suffix}");
        await admin.CheckAsync($"label[data-role='{viewer}'] input");
        await admin.ClickAsync("#create-user");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was created");
        await Expect(admin.Locator("#subject-username")).ToHaveTextAsync(username);
        // Invited and not yet locked: the invitation may be sent again, Unlock is not offered.
        await Expect(admin.Locator("#resend-invitation")).ToBeVisibleAsync();
        await Expect(admin.Locator("#unlock")).ToHaveCountAsync(0);
        var id = Regex.Match(admin.Url, "/admin/users/([0-9a-f-]{36})").Groups[1].Value;
        Assert.NotEmpty(id);

        // A second user with the same username is refused, the message beside the field.
        await admin.GotoAsync("/admin/users/new");
        await admin.FillAsync("#username", username);
        await admin.FillAsync("#email", $"other.{suffix}@example.test");
        await admin.ClickAsync("#create-user");
        await Expect(admin.Locator("#username-error")).ToContainTextAsync("taken");

        // The invitation reaches the newcomer, who sets a password through its link.
        var invitation = await host.Mail.WaitForMessageAsync(m => m.To.Contains(email, StringComparer.OrdinalIgnoreCase), TimeSpan.FromSeconds(30));
        var link = SetPasswordLink().Match(invitation.Text);
        Assert.True(link.Success, invitation.Text);
        Assert.StartsWith(App.BaseUrl + "/set-password?token=", link.Value, StringComparison.Ordinal);
        var newcomer = await host.NewPageAsync();
        await newcomer.GotoAsync(link.Value);
        await newcomer.FillAsync("#newPassword", NewcomerPassword);
        await newcomer.FillAsync("#confirmPassword", NewcomerPassword);
        await newcomer.ClickAsync("button[type=submit]");
        await Expect(newcomer.Locator("h1")).ToHaveTextAsync("Password set");

        // Signed in, the newcomer sees only what the viewer role allows.
        await SignInAsync(newcomer, username, NewcomerPassword);
        var menu = newcomer.Locator("#side-menu");
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Users", Exact = true })).ToBeVisibleAsync();
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Groups", Exact = true })).ToBeVisibleAsync();
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Roles", Exact = true })).ToHaveCountAsync(0);
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Password policy", Exact = true })).ToHaveCountAsync(0);
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Audit log", Exact = true })).ToHaveCountAsync(0);
        foreach (var path in new[] { "/admin/roles", "/admin/password-policy", "/admin/users/new" })
        {
            var response = await newcomer.GotoAsync(path);
            Assert.Equal(403, response!.Status);
            await Expect(newcomer.Locator("#forbidden")).ToBeVisibleAsync();
        }

        var list = await newcomer.GotoAsync("/admin/users");
        Assert.Equal(200, list!.Status);
        await Expect(newcomer.Locator("#add-user")).ToHaveCountAsync(0);

        // A viewer who submits a form anyway (the page offers no button) is refused with 403, and nothing changes.
        await newcomer.GotoAsync($"/admin/users/{id}");
        var refused = await newcomer.RunAndWaitForResponseAsync(() => newcomer.EvaluateAsync("document.getElementById('roles-form').submit()"),
            r => r.Url.Contains($"/admin/users/{id}", StringComparison.Ordinal) && r.Request.Method == "POST");
        Assert.Equal(403, refused.Status);
        await Expect(newcomer.Locator("#forbidden")).ToBeVisibleAsync();

        // The administrator toggles the roles; the newcomer's menu follows at once.
        await admin.GotoAsync($"/admin/users/{id}");
        await Screenshot(admin, "user-details");
        await admin.CheckAsync($"label[data-role='{auditor}'] input");
        await admin.ClickAsync("#change-roles");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("roles were changed");
        await Expect(admin.Locator($"label[data-role='{auditor}'] input")).ToBeCheckedAsync();
        await Expect(admin.Locator($"label[data-role='{viewer}'] input")).ToBeCheckedAsync();
        await Expect(admin.Locator("#privileges")).ToContainTextAsync(Privileges.ViewAuditLog);
        await newcomer.GotoAsync("/");
        await Expect(newcomer.Locator("#side-menu").GetByRole(AriaRole.Link, new() { Name = "Audit log", Exact = true })).ToBeVisibleAsync();

        // The audit log names the administrator as the one who changed the roles.
        await admin.GotoAsync($"/admin/audit?action=user.roles_changed&target={username}");
        await Expect(admin.Locator("#audit tbody tr[data-action='user.roles_changed']")).ToContainTextAsync(TesseraApp.AdminUsername);

        // Each column filter finds the newcomer.
        foreach (var (input, value) in new[] { ("#f-id", id), ("#f-username", username), ("#f-firstName", "Nora"), ("#f-lastName", $"Newman{suffix}"), ("#f-email", email), ("#f-role", viewer) })
        {
            await admin.GotoAsync("/admin/users");
            if (input == "#f-role")
            {
                await admin.SelectOptionAsync(input, value);
            }
            else
            {
                await admin.FillAsync(input, value);
            }

            await admin.ClickAsync("#apply-filters");
            await Expect(admin.Locator($"#users tbody tr[data-username='{username}']")).ToHaveCountAsync(1);
            await Expect(admin.Locator(input)).ToHaveValueAsync(value);
        }

        // The administrator edits the details; a taken email is refused beside its field.
        await admin.GotoAsync($"/admin/users/{id}");
        await admin.FillAsync("#firstName", "Eleanor");
        await admin.FillAsync("#email", "admin@tessera.test");
        await admin.ClickAsync("#save-details");
        await Expect(admin.Locator("#email-error")).ToContainTextAsync("email");
        await Expect(admin.Locator("#firstName")).ToHaveValueAsync("Eleanor");
        await admin.FillAsync("#email", email);
        await admin.ClickAsync("#save-details");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("details were saved");
        await Expect(admin.Locator("#firstName")).ToHaveValueAsync("Eleanor");

        await admin.GotoAsync("/admin/users?username=nobody-at-all-" + suffix);
        await Expect(admin.Locator("#no-users")).ToBeVisibleAsync();
        await admin.GotoAsync("/admin/users");
        await admin.ClickAsync("a.sort[data-sort=email]");
        await Expect(admin.Locator("th[aria-sort=ascending]")).ToContainTextAsync("Email");
        await admin.ClickAsync("a.sort[data-sort=email]");
        await Expect(admin.Locator("th[aria-sort=descending]")).ToContainTextAsync("Email");
        await admin.GotoAsync("/admin/users");
        await Screenshot(admin, "users");

        // The newcomer changes their own password on the profile page and stays signed in.
        await newcomer.ClickAsync("#profile-link");
        await Expect(newcomer.Locator("#profile-username")).ToHaveTextAsync(username);
        await newcomer.FillAsync("#currentPassword", "not-the-password");
        await newcomer.FillAsync("#newPassword", ChosenPassword);
        await newcomer.FillAsync("#confirmPassword", ChosenPassword);
        await newcomer.ClickAsync("#change-own-password");
        await Expect(newcomer.Locator("#currentPassword-error")).ToContainTextAsync("not correct");
        await newcomer.FillAsync("#currentPassword", NewcomerPassword);
        await newcomer.FillAsync("#newPassword", ChosenPassword);
        await newcomer.FillAsync("#confirmPassword", ChosenPassword);
        await newcomer.ClickAsync("#change-own-password");
        await Expect(newcomer.Locator("#notice")).ToContainTextAsync("Your password was changed");
        await newcomer.ReloadAsync();
        await Expect(newcomer.Locator("#profile-username")).ToHaveTextAsync(username);
        await Screenshot(newcomer, "profile");

        // The administrator sets a new password: the policy speaks beside the field, then the newcomer signs in with it.
        await admin.GotoAsync($"/admin/users/{id}");
        await admin.FillAsync("#newPassword", "short");
        await admin.FillAsync("#confirmPassword", "short");
        await admin.ClickAsync("#change-password");
        await Expect(admin.Locator("#newPassword-error")).ToContainTextAsync("at least");
        await admin.FillAsync("#newPassword", AdminSetPassword);
        await admin.FillAsync("#confirmPassword", AdminSetPassword);
        await admin.ClickAsync("#change-password");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("password was changed");
        var again = await host.NewPageAsync();
        await SignInAsync(again, username, AdminSetPassword);
        await Expect(again.Locator("#profile-link")).ToBeVisibleAsync();

        // Wrong passwords lock the newcomer out; the administrator unlocks them.
        var locked = await host.NewPageAsync();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            await locked.GotoAsync("/signin");
            await locked.FillAsync("#login", username);
            await locked.FillAsync("#password", "wrong-password-" + attempt);
            await locked.ClickAsync("button[type=submit].primary");
            await Expect(locked.Locator("#signin-error")).ToBeVisibleAsync();
        }

        await admin.GotoAsync($"/admin/users/{id}");
        await Expect(admin.Locator("#subject-status")).ToHaveTextAsync("locked");
        await admin.ClickAsync("#unlock");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("unlocked");
        await Expect(admin.Locator("#subject-status")).ToHaveTextAsync("active");
        await SignInAsync(locked, username, AdminSetPassword);

        // The newcomer has a password now: an invitation is no longer offered (it would reset a working password).
        await Expect(admin.Locator("#resend-invitation")).ToHaveCountAsync(0);

        // The roles page, seen by the administrator.
        await admin.GotoAsync("/admin/roles");
        await Expect(admin.Locator($"#roles tr[data-role='{viewer}']")).ToBeVisibleAsync();
        await Screenshot(admin, "roles");

        // Delete needs the confirmation, then removes the newcomer.
        await admin.GotoAsync($"/admin/users/{id}");
        await admin.ClickAsync("#delete-user");
        await Expect(admin.Locator("#confirmDelete-error")).ToContainTextAsync("confirm");
        await admin.CheckAsync("#confirm-delete");
        await admin.ClickAsync("#delete-user");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was deleted");
        await admin.GotoAsync("/admin/users?username=" + username);
        await Expect(admin.Locator("#no-users")).ToBeVisibleAsync();
        Assert.Equal(404, (await admin.GotoAsync($"/admin/users/{id}"))!.Status);
    }

    [Fact]
    public async Task The_pages_fit_a_phone_and_send_no_inline_script_or_style()
    {
        var phone = await host.NewPageAsync(390, 844);
        var response = await phone.GotoAsync("/signin");
        Assert.Contains("script-src 'self'", response!.Headers["content-security-policy"], StringComparison.Ordinal);
        await SignInAsync(phone, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        var errors = new List<string>();
        phone.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        foreach (var path in new[] { "/admin/users", "/admin/users/new", "/admin/roles", "/admin/roles/new", "/admin/password-policy", "/admin/audit", "/admin/groups", "/admin/groups/new", "/profile" })
        {
            await phone.GotoAsync(path);
            var overflow = await phone.EvaluateAsync<bool>("document.documentElement.scrollWidth > window.innerWidth + 1 && !document.querySelector('.table-wrap')");
            Assert.False(overflow, path);
            Assert.Equal(0, await phone.Locator("[style]").CountAsync());
        }

        Assert.Empty(errors); // a CSP violation shows as a console error
    }

    [Fact]
    public async Task The_password_policy_form_shows_a_refusal_beside_its_field_and_saves_a_valid_policy()
    {
        var admin = await host.NewPageAsync();
        await SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await admin.GotoAsync("/admin/password-policy");
        await admin.FillAsync("#policy-MinLength", "7");
        await admin.ClickAsync("#save-policy");
        await Expect(admin.Locator("#policy-MinLength-error")).ToContainTextAsync("at least 8");
        await admin.FillAsync("#policy-MinLength", "12");
        await admin.FillAsync("#policy-HistoryCount", "6");
        await admin.ClickAsync("#save-policy");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("password policy was saved");
        await Expect(admin.Locator("#policy-HistoryCount")).ToHaveValueAsync("6");
        await Expect(admin.Locator("#policy-RejectCommon")).ToBeCheckedAsync();
        await Expect(admin.Locator("#policy-RequireSymbol")).Not.ToBeCheckedAsync();
    }

    [Fact]
    public async Task A_role_is_created_with_privilege_toggles_and_the_permission_matrix_changed_and_deleted()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var resource = $"orders{suffix}";
        await using (var scope = App.Services.CreateAsyncScope())
        {
            var roles = scope.ServiceProvider.GetRequiredService<RoleService>();
            var catalog = await roles.ResourcesAsync(CancellationToken.None);
            var replaced = await roles.ReplaceResourcesAsync(new ResourceCatalog([.. catalog.Resources!, new ResourceDto(resource, ["read", "refund"])]), CancellationToken.None);
            Assert.True(replaced.Succeeded, replaced.Failure?.Detail);
        }

        var admin = await host.NewPageAsync();
        await SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await admin.GotoAsync("/admin/roles");
        await admin.ClickAsync("#add-role");
        await admin.ClickAsync("#save-role");
        await Expect(admin.Locator("#name-error")).ToContainTextAsync("needs a name");
        await admin.FillAsync("#name", $"Clerk-{suffix}");
        await admin.FillAsync("#description", "Reads orders, never refunds");
        await admin.CheckAsync($"#privileges input[value={Privileges.ViewUsers}]");
        await admin.CheckAsync($"tr[data-rule='{resource}:read'] input[value=allow]");
        await admin.CheckAsync($"tr[data-rule='{resource}:refund'] input[value=deny]");
        await admin.ClickAsync("#save-role");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was created");
        await Expect(admin.Locator($"#privileges input[value={Privileges.ViewUsers}]")).ToBeCheckedAsync();
        await Expect(admin.Locator($"tr[data-rule='{resource}:read'] input[value=allow]")).ToBeCheckedAsync();
        await Expect(admin.Locator($"tr[data-rule='{resource}:refund'] input[value=deny]")).ToBeCheckedAsync();
        await Screenshot(admin, "role");

        await admin.CheckAsync($"tr[data-rule='{resource}:refund'] input[value='']");
        await admin.ClickAsync("#save-role");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was saved");
        await Expect(admin.Locator($"tr[data-rule='{resource}:refund'] input[value='']")).ToBeCheckedAsync();
        await using (var scope = App.Services.CreateAsyncScope())
        {
            var saved = (await scope.ServiceProvider.GetRequiredService<RoleService>().ListAsync(CancellationToken.None)).Single(r => r.Name == $"Clerk-{suffix}");
            Assert.Equal([new RuleDto(resource, "read", "allow")], saved.Rules);
        }

        // Built-in roles show their definition but offer no change.
        await admin.GotoAsync("/admin/roles");
        await admin.ClickAsync("#roles tr[data-role='Administrator'] a");
        await Expect(admin.Locator("#save-role")).ToHaveCountAsync(0);

        await admin.GotoAsync("/admin/roles");
        await admin.ClickAsync($"#roles tr[data-role='Clerk-{suffix}'] a");
        await admin.CheckAsync("#confirm-delete");
        await admin.ClickAsync("#delete-role");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was deleted");
        await Expect(admin.Locator($"#roles tr[data-role='Clerk-{suffix}']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_group_gives_its_roles_to_the_members_added_by_username_and_can_be_deleted()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var role = await CreateRoleAsync($"Group-Viewer-{suffix}", Privileges.ViewRoles);
        var member = $"member.{suffix}";
        await using (var scope = App.Services.CreateAsyncScope())
        {
            var created = await scope.ServiceProvider.GetRequiredService<UserService>().CreateAsync(
                new CreateUserRequest(member, $"{member}@example.test", "Gina", "Group", "backoffice", null, [], null, null), CancellationToken.None);
            Assert.True(created.Succeeded, created.Failure?.Detail);
        }

        var admin = await host.NewPageAsync();
        await SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await admin.GotoAsync("/admin/groups");
        await admin.ClickAsync("#add-group");
        await admin.FillAsync("#name", $"Team-{suffix}");
        await admin.CheckAsync($"label[data-role='{role}'] input");
        await admin.FillAsync("#member-search", $"nobody-{suffix}");
        await admin.ClickAsync("#find-members");
        await Expect(admin.Locator("#no-candidates")).ToBeVisibleAsync();
        await admin.FillAsync("#member-search", member);
        await admin.ClickAsync("#find-members");
        await admin.CheckAsync($"label[data-candidate='{member}'] input");
        await admin.ClickAsync("#save-group");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was created");
        await Expect(admin.Locator($"label[data-member='{member}'] input")).ToBeCheckedAsync();

        await admin.ClickAsync($"label[data-member='{member}'] a");
        await Expect(admin.Locator("#groups")).ToContainTextAsync($"Team-{suffix}");
        await Expect(admin.Locator("#privileges")).ToContainTextAsync($"{role} (group Team-{suffix})");

        await admin.GotoAsync("/admin/groups");
        await admin.ClickAsync($"#groups tr[data-group='Team-{suffix}'] a");
        await admin.UncheckAsync($"label[data-member='{member}'] input");
        await admin.ClickAsync("#save-group");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was saved");
        await Expect(admin.Locator($"label[data-member='{member}']")).ToHaveCountAsync(0);
        await admin.CheckAsync("#confirm-delete");
        await admin.ClickAsync("#delete-group");
        await Expect(admin.Locator("#notice")).ToContainTextAsync("was deleted");
        await Expect(admin.Locator($"#groups tr[data-group='Team-{suffix}']")).ToHaveCountAsync(0);
    }

    private async Task<string> CreateRoleAsync(string name, string privilege)
    {
        await using var scope = App.Services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleService>();
        var created = await roles.CreateAsync(new RoleRequest(name, $"Test role with {privilege}", [privilege], []), CancellationToken.None);
        Assert.True(created.Succeeded, created.Failure?.Detail);
        return name;
    }

    [GeneratedRegex(@"https?://[^\s""<>]+/set-password\?token=[^\s""<>]+")]
    private static partial Regex SetPasswordLink();
}
