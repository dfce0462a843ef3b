using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using static Tessera.Server.Tests.Delegation.DelegationArrange;

namespace Tessera.Server.Tests.Delegation;

public sealed class SqliteDelegationTests(SqliteHost host) : DelegationTests<SqliteHost>(host);

public sealed class PostgresDelegationTests(PostgresHost host) : DelegationTests<PostgresHost>(host);

/// <summary>
/// Safe delegation over the REST API with real tokens: an actor hands out only privileges it holds
/// (privilege ceiling), acts only on accounts its privileges cover (account dominance), and cannot lock
/// itself out. Every refusal changes nothing and writes exactly one access.denied audit event.
/// </summary>
public abstract class DelegationTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Ceiling = DelegationCodes.PrivilegeCeiling;
    private const string Outranks = DelegationCodes.TargetOutranksActor;
    private const string SelfLockout = DelegationCodes.SelfLockout;

    protected TesseraApp App => host.App;

    private Task<Guid> AdminIdAsync() => UserIdAsync(App, TesseraApp.AdminUsername);

    /// <summary>A BackOffice user holding Administrator, like the bootstrap admin, for attacks that would spoil the shared one.</summary>
    private async Task<User> VictimAdministratorAsync() => await Seed.UserAsync(App, UserType.BackOffice, Secret(), BuiltInRoles.Administrator);

    [Fact]
    public async Task The_OpenAPI_document_names_the_refusals_of_every_directory_change()
    {
        using var client = App.Client();
        var document = await Seed.JsonAsync(await client.GetAsync("/openapi/v1.json"));
        var changes = new[]
        {
            ("/api/v1/users", "post"), ("/api/v1/users/{id}", "patch"), ("/api/v1/users/{id}", "delete"), ("/api/v1/users/{id}/roles", "put"),
            ("/api/v1/users/{id}/password", "post"), ("/api/v1/users/{id}/invitation", "post"), ("/api/v1/users/{id}/unlock", "post"),
            ("/api/v1/users/{id}/revoke-tokens", "post"), ("/api/v1/users/{id}/customers", "put"),
            ("/api/v1/users/{id}/sessions", "delete"), ("/api/v1/users/{id}/sessions/{sessionId}", "delete"),
            ("/api/v1/roles", "post"), ("/api/v1/roles/{id}", "put"), ("/api/v1/roles/{id}", "delete"), ("/api/v1/roles/import", "post"),
            ("/api/v1/groups", "post"), ("/api/v1/groups/{id}", "put"), ("/api/v1/groups/{id}", "delete"),
            ("/api/v1/groups/{id}/roles", "put"), ("/api/v1/groups/{id}/members", "put"),
        };
        foreach (var (path, method) in changes)
        {
            var operation = document.GetProperty("paths").GetProperty(path).GetProperty(method);
            Assert.True(operation.TryGetProperty("description", out var description) && description.GetString()!.Contains(Ceiling, StringComparison.Ordinal),
                $"{method} {path}: {operation}");
            var responses = operation.GetProperty("responses");
            Assert.True(responses.TryGetProperty("403", out _) && responses.TryGetProperty("409", out _), $"{method} {path}: {responses}");
            Assert.Contains(responses.EnumerateObject(), r => r.Name.StartsWith('2'));
        }
    }

    // ---- Privilege ceiling and account dominance: an actor holding only MANAGE_USERS ----

    [Fact]
    public async Task A_user_manager_cannot_give_itself_the_Administrator_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var before = await UserRolesAsync(App, actor.Id);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/users/{actor.Id}/roles", new { roles = new[] { BuiltInRoles.System, actor.Role, BuiltInRoles.Administrator } });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, AllBut(Privileges.ManageUsers));
        Assert.Equal(before, await UserRolesAsync(App, actor.Id));
        using (var next = await ClientAsync(App, actor.Username, actor.Secret))
        {
            await Expect.ProblemAsync(await next.GetAsync("/api/v1/roles"), HttpStatusCode.Forbidden, "forbidden");
        }

        await AssertOneDeniedAsync(App, actor.Id, "user.roles_changed", Ceiling, AllBut(Privileges.ManageUsers), "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task A_user_manager_cannot_set_the_BackOffice_administrators_password()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var adminId = await AdminIdAsync();
        var chosen = Secret();
        try
        {
            var response = await actor.Client.PostAsJsonAsync($"/api/v1/users/{adminId}/password", new { newPassword = chosen, confirmPassword = chosen });

            await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
            await AssertSignsInAsync(App, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
            await AssertOneDeniedAsync(App, actor.Id, "user.password_set", Outranks, AllBut(Privileges.ManageUsers), "user", adminId, TesseraApp.AdminUsername);
        }
        finally
        {
            await RestorePasswordAsync(App, adminId, TesseraApp.AdminPassword);
        }
    }

    [Fact]
    public async Task A_user_manager_cannot_set_the_bootstrap_API_administrators_secret()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var bootstrapId = await UserIdAsync(App, TesseraApp.ApiClientId);
        var chosen = Secret();
        try
        {
            var response = await actor.Client.PostAsJsonAsync($"/api/v1/users/{bootstrapId}/password", new { newPassword = chosen, confirmPassword = chosen });

            await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
            Assert.True(await SecretWorksAsync(App, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret), "the bootstrap API administrator's secret stopped working");
            Assert.False(await SecretWorksAsync(App, TesseraApp.ApiClientId, chosen), "the attacker's secret opens the bootstrap API administrator");
            await AssertOneDeniedAsync(App, actor.Id, "user.password_set", Outranks, AllBut(Privileges.ManageUsers), "user", bootstrapId, TesseraApp.ApiClientId);
        }
        finally
        {
            await RestorePasswordAsync(App, bootstrapId, TesseraApp.ApiClientSecret);
        }
    }

    [Fact]
    public async Task A_user_manager_cannot_change_the_administrators_email()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var adminId = await AdminIdAsync();
        var email = (await StoredUserAsync(App, adminId)).Email;
        try
        {
            var response = await actor.Client.PatchAsJsonAsync($"/api/v1/users/{adminId}", new { email = $"{actor.Username}@attacker.test" });

            await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
            Assert.Equal(email, (await StoredUserAsync(App, adminId)).Email);
            await AssertOneDeniedAsync(App, actor.Id, "user.updated", Outranks, AllBut(Privileges.ManageUsers), "user", adminId, TesseraApp.AdminUsername);
        }
        finally
        {
            await Seed.UpdateUserAsync(App, adminId, u => u.SetEmail(email));
        }
    }

    [Fact]
    public async Task A_user_manager_cannot_send_the_administrator_an_invitation()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var adminId = await AdminIdAsync();
        var tokensBefore = await CredentialTokenCountAsync(adminId);

        var response = await actor.Client.PostAsync($"/api/v1/users/{adminId}/invitation", null);

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        Assert.Equal(tokensBefore, await CredentialTokenCountAsync(adminId));
        await AssertOneDeniedAsync(App, actor.Id, "user.invitation_sent", Outranks, AllBut(Privileges.ManageUsers), "user", adminId, TesseraApp.AdminUsername);
    }

    [Fact]
    public async Task A_user_manager_cannot_unlock_an_administrator()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var victim = await VictimAdministratorAsync();
        var lockedUntil = DateTime.UtcNow.AddHours(1);
        await Seed.UpdateUserAsync(App, victim.Id, u =>
        {
            u.Status = UserStatus.Locked;
            u.LockedUntil = lockedUntil;
            u.FailedSignInCount = 5;
        });

        var response = await actor.Client.PostAsync($"/api/v1/users/{victim.Id}/unlock", null);

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        var stored = await StoredUserAsync(App, victim.Id);
        Assert.Equal(UserStatus.Locked, stored.Status);
        Assert.NotNull(stored.LockedUntil);
        Assert.Equal(5, stored.FailedSignInCount);
        await AssertOneDeniedAsync(App, actor.Id, "user.unlocked", Outranks, AllBut(Privileges.ManageUsers), "user", victim.Id, victim.Username);
    }

    [Fact]
    public async Task A_user_manager_cannot_delete_an_administrator()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var victim = await VictimAdministratorAsync();

        var response = await actor.Client.DeleteAsync($"/api/v1/users/{victim.Id}");

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        Assert.True(await UserExistsAsync(App, victim.Username));
        Assert.Equal([BuiltInRoles.Administrator], await UserRolesAsync(App, victim.Id));
        await AssertOneDeniedAsync(App, actor.Id, "user.deleted", Outranks, AllBut(Privileges.ManageUsers), "user", victim.Id, victim.Username);
    }

    [Fact]
    public async Task A_user_manager_cannot_disable_an_administrator()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var victim = await VictimAdministratorAsync();

        var response = await actor.Client.PatchAsJsonAsync($"/api/v1/users/{victim.Id}", new { status = "disabled" });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        var stored = await StoredUserAsync(App, victim.Id);
        Assert.Equal(UserStatus.Active, stored.Status);
        Assert.Equal(victim.SecurityStamp, stored.SecurityStamp);
        await AssertOneDeniedAsync(App, actor.Id, "user.updated", Outranks, AllBut(Privileges.ManageUsers), "user", victim.Id, victim.Username);
    }

    [Fact]
    public async Task A_user_manager_cannot_revoke_the_administrators_tokens()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var adminId = await AdminIdAsync();
        using var session = App.Client(cookies: true);
        var signIn = await Seed.SignInAsync(session, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        Assert.True(signIn.StatusCode == HttpStatusCode.Redirect, $"admin sign-in: {(int)signIn.StatusCode}");
        await Expect.ResponseAsync(await session.GetAsync("/"), HttpStatusCode.OK);
        var stamp = (await StoredUserAsync(App, adminId)).SecurityStamp;

        var response = await actor.Client.PostAsync($"/api/v1/users/{adminId}/revoke-tokens", null);

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        Assert.Equal(stamp, (await StoredUserAsync(App, adminId)).SecurityStamp);
        var page = await session.GetAsync("/");
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"the admin's session ended: {(int)page.StatusCode} {page.Headers.Location}");
        await AssertOneDeniedAsync(App, actor.Id, "user.tokens_revoked", Outranks, AllBut(Privileges.ManageUsers), "user", adminId, TesseraApp.AdminUsername);
    }

    [Fact]
    public async Task A_user_manager_cannot_change_the_administrators_agent_scope()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var adminId = await AdminIdAsync();
        var before = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{adminId}/customers"), HttpStatusCode.OK);
        var wanted = before.GetProperty("scope").GetString() == "all" ? "assigned" : "all";

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/users/{adminId}/customers", new { scope = wanted, customerIds = Array.Empty<Guid>() });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, AllBut(Privileges.ManageUsers));
        var after = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{adminId}/customers"), HttpStatusCode.OK);
        Assert.Equal(before.ToString(), after.ToString());
        await AssertOneDeniedAsync(App, actor.Id, "user.agent_customers_changed", Outranks, AllBut(Privileges.ManageUsers), "user", adminId, TesseraApp.AdminUsername);
    }

    [Fact]
    public async Task A_user_manager_cannot_create_a_user_with_the_Administrator_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var username = Seed.Unique("bo");

        var response = await actor.Client.PostAsJsonAsync("/api/v1/users", new
        {
            username, email = $"{username}@delegation.test", firstName = "New", lastName = "Administrator", type = "backoffice", roles = new[] { BuiltInRoles.Administrator },
        });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, AllBut(Privileges.ManageUsers));
        Assert.False(await UserExistsAsync(App, username));
        await AssertOneDeniedAsync(App, actor.Id, "user.created", Ceiling, AllBut(Privileges.ManageUsers), "user", null, username);
    }

    // ---- Privilege ceiling on role definitions: an actor holding only MANAGE_ROLES ----

    [Fact]
    public async Task A_role_manager_cannot_add_privileges_it_lacks_to_its_own_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageRoles]);
        var roleId = await RoleIdAsync(actor.Role);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/roles/{roleId}", new
        {
            name = actor.Role, privileges = new[] { Privileges.ManageRoles, Privileges.ManageUsers, Privileges.ViewAuditLog },
        });

        string[] beyond = [Privileges.ManageUsers, Privileges.ViewAuditLog];
        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, beyond);
        await AssertRoleAsync(App, roleId, actor.Role, Privileges.ManageRoles);
        await AssertOneDeniedAsync(App, actor.Id, "role.updated", Ceiling, beyond, "role", roleId, actor.Role);
    }

    [Fact]
    public async Task A_role_manager_cannot_add_privileges_it_lacks_through_an_import()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageRoles]);
        var roleId = await RoleIdAsync(actor.Role);

        var response = await actor.Client.PostAsJsonAsync("/api/v1/roles/import?mode=merge", new
        {
            roles = new[]
            {
                new { name = actor.Role, description = "delegation test", privileges = new[] { Privileges.ManageRoles, Privileges.ManageUsers, Privileges.ViewAuditLog }, rules = Array.Empty<object>() },
            },
        });

        string[] beyond = [Privileges.ManageUsers, Privileges.ViewAuditLog];
        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, beyond);
        await AssertRoleAsync(App, roleId, actor.Role, Privileges.ManageRoles);
        await AssertOneDeniedAsync(App, actor.Id, "roles.imported", Ceiling, beyond, "role", null);
    }

    [Fact]
    public async Task A_role_manager_cannot_rename_a_role_while_adding_a_privilege_it_lacks()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageRoles]);
        var (roleId, name) = await RoleAsync(admin, "target", Privileges.ManageRoles);
        var renamed = Seed.Unique("renamed");

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/roles/{roleId}", new { name = renamed, privileges = new[] { Privileges.ManageRoles, Privileges.ViewUsers } });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, [Privileges.ViewUsers]);
        await AssertRoleAsync(App, roleId, name, Privileges.ManageRoles);
        Assert.False(await RoleExistsAsync(App, renamed));
        await AssertOneDeniedAsync(App, actor.Id, "role.updated", Ceiling, [Privileges.ViewUsers], "role", roleId, name, renamed);
    }

    [Fact]
    public async Task A_role_manager_cannot_create_a_role_with_a_privilege_it_lacks()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageRoles]);
        var name = Seed.Unique("created");

        var response = await actor.Client.PostAsJsonAsync("/api/v1/roles", new { name, privileges = new[] { Privileges.ManageUsers } });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, [Privileges.ManageUsers]);
        Assert.False(await RoleExistsAsync(App, name));
        await AssertOneDeniedAsync(App, actor.Id, "role.created", Ceiling, [Privileges.ManageUsers], "role", null, name);
    }

    // ---- Groups: an actor holding MANAGE_GROUPS and VIEW_USERS ----

    [Fact]
    public async Task A_group_manager_cannot_create_a_group_with_the_Administrator_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageGroups, Privileges.ViewUsers]);
        var name = Seed.Unique("grp");

        var response = await actor.Client.PostAsJsonAsync("/api/v1/groups", new { name, roles = new[] { BuiltInRoles.Administrator } });

        var beyond = AllBut(Privileges.ManageGroups, Privileges.ViewUsers);
        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, beyond);
        Assert.False(await GroupExistsAsync(App, name));
        await AssertOneDeniedAsync(App, actor.Id, "group.created", Ceiling, beyond, "group", null, name);
    }

    [Fact]
    public async Task A_group_manager_cannot_join_a_group_that_gives_Administrator()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageGroups, Privileges.ViewUsers]);
        var (groupId, name) = await GroupAsync(admin, [BuiltInRoles.Administrator]);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new { userIds = new[] { actor.Id } });

        var beyond = AllBut(Privileges.ManageGroups, Privileges.ViewUsers);
        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, beyond);
        await AssertGroupAsync(App, groupId, [BuiltInRoles.Administrator], []);
        using (var next = await ClientAsync(App, actor.Username, actor.Secret))
        {
            await Expect.ProblemAsync(await next.GetAsync("/api/v1/roles"), HttpStatusCode.Forbidden, "forbidden");
        }

        await AssertOneDeniedAsync(App, actor.Id, "group.members_changed", Ceiling, beyond, "group", groupId, name);
    }

    [Fact]
    public async Task A_group_manager_cannot_remove_the_administrator_from_a_group()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageGroups, Privileges.ViewUsers]);
        var adminId = await AdminIdAsync();
        var (groupId, name) = await GroupAsync(admin, [], adminId);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new { userIds = Array.Empty<Guid>() });

        var beyond = AllBut(Privileges.ManageGroups, Privileges.ViewUsers);
        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, beyond);
        await AssertGroupAsync(App, groupId, [], [adminId]);
        await AssertOneDeniedAsync(App, actor.Id, "group.members_changed", Outranks, beyond, "group", groupId, name);
    }

    // ---- No self-lockout: an actor holding MANAGE_USERS and what the change needs ----

    [Fact]
    public async Task An_actor_cannot_delete_itself()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);

        var response = await actor.Client.DeleteAsync($"/api/v1/users/{actor.Id}");

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.True(await UserExistsAsync(App, actor.Username));
        Assert.True(await SecretWorksAsync(App, actor.Username, actor.Secret));
        await AssertOneDeniedAsync(App, actor.Id, "user.deleted", SelfLockout, null, "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task An_actor_cannot_disable_itself()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);

        var response = await actor.Client.PatchAsJsonAsync($"/api/v1/users/{actor.Id}", new { status = "disabled" });

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.Equal(UserStatus.Active, (await StoredUserAsync(App, actor.Id)).Status);
        Assert.True(await SecretWorksAsync(App, actor.Username, actor.Secret));
        await AssertOneDeniedAsync(App, actor.Id, "user.updated", SelfLockout, null, "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task An_actor_cannot_set_its_own_password_as_an_administrator()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var chosen = Secret();

        var response = await actor.Client.PostAsJsonAsync($"/api/v1/users/{actor.Id}/password", new { newPassword = chosen, confirmPassword = chosen });

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.True(await SecretWorksAsync(App, actor.Username, actor.Secret), "the old secret stopped working");
        Assert.False(await SecretWorksAsync(App, actor.Username, chosen), "the new secret was set");
        await AssertOneDeniedAsync(App, actor.Id, "user.password_set", SelfLockout, null, "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task An_actor_cannot_send_itself_an_invitation()
    {
        // An invitation sets a password without the current one: one's own goes through /me/password.
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers]);
        var tokens = await CredentialTokenCountAsync(actor.Id);

        var response = await actor.Client.PostAsync($"/api/v1/users/{actor.Id}/invitation", null);

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.Equal(tokens, await CredentialTokenCountAsync(actor.Id));
        await AssertOneDeniedAsync(App, actor.Id, "user.invitation_sent", SelfLockout, null, "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task An_actor_cannot_drop_the_role_that_gives_it_MANAGE_USERS()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);
        var before = await UserRolesAsync(App, actor.Id);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/users/{actor.Id}/roles", new { roles = new[] { BuiltInRoles.System } });

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.Equal(before, await UserRolesAsync(App, actor.Id));
        await AssertOneDeniedAsync(App, actor.Id, "user.roles_changed", SelfLockout, null, "user", actor.Id, actor.Username);
    }

    [Fact]
    public async Task An_actor_cannot_leave_the_group_that_gives_it_MANAGE_USERS()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, managing) = await RoleAsync(admin, "managing", Privileges.ManageUsers);
        var (groupId, name) = await GroupAsync(admin, [managing]);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageGroups, Privileges.ViewUsers], groups: [name]);
        await AssertGroupAsync(App, groupId, [managing], [actor.Id]);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new { userIds = Array.Empty<Guid>() });

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        await AssertGroupAsync(App, groupId, [managing], [actor.Id]);
        await AssertOneDeniedAsync(App, actor.Id, "group.members_changed", SelfLockout, null, "group", groupId, name);
    }

    [Fact]
    public async Task An_actor_cannot_take_MANAGE_USERS_from_its_own_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ManageRoles]);
        var roleId = await RoleIdAsync(actor.Role);

        var response = await actor.Client.PutAsJsonAsync($"/api/v1/roles/{roleId}", new { name = actor.Role, privileges = new[] { Privileges.ManageRoles } });

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        await AssertRoleAsync(App, roleId, actor.Role, Privileges.ManageRoles, Privileges.ManageUsers);
        await AssertOneDeniedAsync(App, actor.Id, "role.updated", SelfLockout, null, "role", roleId, actor.Role);
    }

    [Fact]
    public async Task An_actor_cannot_delete_the_role_that_gives_it_MANAGE_USERS()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ManageRoles]);
        var roleId = await RoleIdAsync(actor.Role);

        var response = await actor.Client.DeleteAsync($"/api/v1/roles/{roleId}");

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        await AssertRoleAsync(App, roleId, actor.Role, Privileges.ManageRoles, Privileges.ManageUsers);
        Assert.Contains(actor.Role, await UserRolesAsync(App, actor.Id));
        await AssertOneDeniedAsync(App, actor.Id, "role.deleted", SelfLockout, null, "role", roleId, actor.Role);
    }

    [Fact]
    public async Task An_actor_cannot_delete_the_group_that_gives_it_MANAGE_USERS()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, managing) = await RoleAsync(admin, "managing", Privileges.ManageUsers);
        var (groupId, name) = await GroupAsync(admin, [managing]);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageGroups, Privileges.ViewUsers], groups: [name]);

        var response = await actor.Client.DeleteAsync($"/api/v1/groups/{groupId}");

        await RefusedAsync(response, HttpStatusCode.Conflict, SelfLockout);
        Assert.True(await GroupExistsAsync(App, name));
        await AssertGroupAsync(App, groupId, [managing], [actor.Id]);
        await AssertOneDeniedAsync(App, actor.Id, "group.deleted", SelfLockout, null, "group", groupId, name);
    }

    // ---- What stays allowed ----

    [Fact]
    public async Task The_bootstrap_API_administrator_may_give_the_Administrator_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var bootstrapId = await UserIdAsync(App, TesseraApp.ApiClientId);
        var deniedBefore = (await DeniedAsync(App, bootstrapId)).Count;
        var target = await Seed.UserAsync(App, UserType.BackOffice, Secret());

        var user = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{target.Id}/roles", new { roles = new[] { BuiltInRoles.Administrator } }), HttpStatusCode.OK);

        Assert.Equal([BuiltInRoles.Administrator], user.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal([BuiltInRoles.Administrator], await UserRolesAsync(App, target.Id));
        Assert.Equal(deniedBefore, (await DeniedAsync(App, bootstrapId)).Count);
    }

    [Fact]
    public async Task A_user_manager_creates_users_with_privileges_it_holds_but_not_beyond()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers, Privileges.ViewRoles]);
        var (_, viewing) = await RoleAsync(admin, "viewing", Privileges.ViewUsers);
        var (_, managingRoles) = await RoleAsync(admin, "roles", Privileges.ManageRoles);

        var allowed = Seed.Unique("bo");
        var created = await Expect.ResponseAsync(await actor.Client.PostAsJsonAsync("/api/v1/users", new
        {
            username = allowed, email = $"{allowed}@delegation.test", firstName = "Viewer", lastName = allowed, type = "backoffice", roles = new[] { viewing },
        }), HttpStatusCode.Created);
        Assert.Equal([viewing], created.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        await AssertNoneDeniedAsync(App, actor.Id);

        var refused = Seed.Unique("bo");
        var response = await actor.Client.PostAsJsonAsync("/api/v1/users", new
        {
            username = refused, email = $"{refused}@delegation.test", firstName = "Roles", lastName = refused, type = "backoffice", roles = new[] { managingRoles },
        });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Ceiling, [Privileges.ManageRoles]);
        Assert.False(await UserExistsAsync(App, refused));
        await AssertOneDeniedAsync(App, actor.Id, "user.created", Ceiling, [Privileges.ManageRoles], "user", null, refused);
    }

    [Fact]
    public async Task A_help_desk_resets_the_password_of_a_plain_API_user()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);
        var (targetId, username, _) = await ApiUserAsync(admin, []);
        Assert.Equal([BuiltInRoles.System], await UserRolesAsync(App, targetId));
        var chosen = Secret();

        await Expect.ResponseAsync(await actor.Client.PostAsJsonAsync($"/api/v1/users/{targetId}/password", new { newPassword = chosen, confirmPassword = chosen }), HttpStatusCode.NoContent);

        Assert.True(await SecretWorksAsync(App, username, chosen), "the new secret does not work");
        await AssertNoneDeniedAsync(App, actor.Id);
    }

    [Fact]
    public async Task A_help_desk_resets_the_password_of_a_BackOffice_user_who_only_views_users()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);
        var (_, viewing) = await RoleAsync(admin, "viewing", Privileges.ViewUsers);
        var target = await Seed.UserAsync(App, UserType.BackOffice, Secret(), viewing);
        var chosen = Secret();

        await Expect.ResponseAsync(await actor.Client.PostAsJsonAsync($"/api/v1/users/{target.Id}/password", new { newPassword = chosen, confirmPassword = chosen }), HttpStatusCode.NoContent);

        await AssertSignsInAsync(App, target.Username, chosen);
        await AssertNoneDeniedAsync(App, actor.Id);
    }

    [Fact]
    public async Task A_help_desk_cannot_reset_the_password_of_a_user_who_reads_the_audit_log()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);
        var (_, auditing) = await RoleAsync(admin, "auditing", Privileges.ViewAuditLog);
        var (targetId, username, secret) = await ApiUserAsync(admin, [auditing]);
        var chosen = Secret();

        var response = await actor.Client.PostAsJsonAsync($"/api/v1/users/{targetId}/password", new { newPassword = chosen, confirmPassword = chosen });

        await RefusedAsync(response, HttpStatusCode.Forbidden, Outranks, [Privileges.ViewAuditLog]);
        Assert.True(await SecretWorksAsync(App, username, secret), "the old secret stopped working");
        Assert.False(await SecretWorksAsync(App, username, chosen), "the new secret was set");
        await AssertOneDeniedAsync(App, actor.Id, "user.password_set", Outranks, [Privileges.ViewAuditLog], "user", targetId, username);
    }

    [Fact]
    public async Task A_role_manager_may_take_privileges_it_does_not_hold_from_a_role()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await ActorAsync(App, admin, [Privileges.ManageRoles]);
        var (roleId, name) = await RoleAsync(admin, "trimmed", Privileges.ManageUsers, Privileges.ViewAuditLog);

        var role = await Expect.ResponseAsync(await actor.Client.PutAsJsonAsync($"/api/v1/roles/{roleId}", new { name, privileges = new[] { Privileges.ViewAuditLog } }), HttpStatusCode.OK);

        Assert.Equal([Privileges.ViewAuditLog], role.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()));
        await AssertRoleAsync(App, roleId, name, Privileges.ViewAuditLog);
        await AssertNoneDeniedAsync(App, actor.Id);
    }

    private async Task<Guid> RoleIdAsync(string name)
    {
        await using var scope = App.Scope(out var db);
        var normalized = name.ToUpperInvariant();
        return await db.Roles.Where(r => r.NormalizedName == normalized).Select(r => r.Id).SingleAsync();
    }

    private async Task<int> CredentialTokenCountAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        return await db.CredentialTokens.CountAsync(t => t.UserId == userId);
    }
}
