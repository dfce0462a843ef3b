using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Changes;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteBulkActionsTests(SqliteHost host) : BulkActionsTests<SqliteHost>(host);

public sealed class PostgresBulkActionsTests(PostgresHost host) : BulkActionsTests<PostgresHost>(host);

/// <summary>
/// POST /api/v1/users/bulk: each user is its own directory change, so each row is judged by the delegation rules and
/// the invariants on its own and answered in request order; malformed input changes nothing at all.
/// </summary>
public abstract class BulkActionsTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Secret = "Bulk-Secret-Password-1!";

    private TesseraApp App => host.App;

    private static async Task<List<JsonElement>> ResultsAsync(HttpClient client, object body)
    {
        var answer = await Expect.ResponseAsync(await client.PostAsJsonAsync("/api/v1/users/bulk", body), HttpStatusCode.OK);
        return [.. answer.GetProperty("results").EnumerateArray().Select(r => r.Clone())];
    }

    private static (string? Outcome, string? Code) Row(JsonElement row)
        => (row.GetProperty("outcome").GetString(), row.GetProperty("code").GetString());

    private async Task<UserStatus> StatusAsync(Guid id) => (await DelegationArrange.StoredUserAsync(App, id)).Status;

    [Fact]
    public async Task Disable_runs_per_user_and_an_outranking_account_fails_alone()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers]);
        var first = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var second = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var boss = await Seed.UserAsync(App, UserType.BackOffice, Secret, BuiltInRoles.Administrator);
        var missing = Guid.NewGuid();

        var results = await ResultsAsync(actor.Client, new { action = "disable", userIds = new[] { first.Id, boss.Id, second.Id, missing } });

        Assert.Equal([first.Id, boss.Id, second.Id, missing], results.Select(r => r.GetProperty("userId").GetGuid()));
        Assert.Equal([first.Username, boss.Username, second.Username, null], results.Select(r => r.GetProperty("username").GetString()));
        Assert.Equal(("done", null), Row(results[0]));
        Assert.Equal(("failed", DelegationCodes.TargetOutranksActor), Row(results[1]));
        Assert.False(string.IsNullOrEmpty(results[1].GetProperty("detail").GetString()));
        Assert.Equal(("done", null), Row(results[2]));
        Assert.Equal(("failed", "not_found"), Row(results[3]));
        Assert.Equal(UserStatus.Disabled, await StatusAsync(first.Id));
        Assert.Equal(UserStatus.Active, await StatusAsync(boss.Id));
        Assert.Equal(UserStatus.Disabled, await StatusAsync(second.Id));
        // The refused row is audited as a denial of its own, like the single change.
        await DelegationArrange.AssertOneDeniedAsync(App, actor.Id, "user.updated", DelegationCodes.TargetOutranksActor, DelegationArrange.AllBut(Privileges.ViewUsers, Privileges.ManageUsers), "user", boss.Id, boss.Username);

        // Again: nothing to do for the two, the third still out of reach; then enabling brings them back.
        var again = await ResultsAsync(actor.Client, new { action = "disable", userIds = new[] { first.Id, second.Id } });
        Assert.All(again, r => Assert.Equal(("unchanged", null), Row(r)));
        var enabled = await ResultsAsync(actor.Client, new { action = "enable", userIds = new[] { first.Id, second.Id } });
        Assert.All(enabled, r => Assert.Equal(("done", null), Row(r)));
        Assert.Equal(UserStatus.Active, await StatusAsync(first.Id));

        // Self-lockout applies per row too: the actor cannot disable itself along with others.
        var self = await ResultsAsync(actor.Client, new { action = "disable", userIds = new[] { actor.Id, first.Id } });
        Assert.Equal("failed", Row(self[0]).Outcome);
        Assert.Equal(("done", null), Row(self[1]));
    }

    [Fact]
    public async Task Roles_are_added_and_removed_in_bulk_within_the_actors_ceiling()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, viewer) = await DelegationArrange.RoleAsync(admin, "viewer", Privileges.ViewUsers);
        var (_, auditor) = await DelegationArrange.RoleAsync(admin, "auditor", Privileges.ViewAuditLog);
        var one = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var two = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{two.Id}/roles", new { roles = new object[] { new { name = auditor, validUntil = "2030-01-01T00:00:00Z" } } }), HttpStatusCode.OK);

        var added = await ResultsAsync(admin, new { action = "add_role", userIds = new[] { one.Id, two.Id }, role = viewer.ToUpperInvariant() });
        Assert.All(added, r => Assert.Equal(("done", null), Row(r)));
        Assert.Equal([viewer], await DelegationArrange.UserRolesAsync(App, one.Id));
        Assert.Equal(new[] { auditor, viewer }.Order(StringComparer.Ordinal), (await DelegationArrange.UserRolesAsync(App, two.Id)).Order(StringComparer.Ordinal));
        // The other grant kept its validity.
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc), await db.UserRoles.Where(r => r.UserId == two.Id && r.Role!.Name == auditor).Select(r => r.ValidUntil).SingleAsync());
        }

        Assert.All(await ResultsAsync(admin, new { action = "add_role", userIds = new[] { one.Id }, role = viewer }), r => Assert.Equal(("unchanged", null), Row(r)));

        // An actor without VIEW_AUDIT_LOG cannot hand out the auditor role: each row is refused by the ceiling.
        using var actor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers]);
        var refused = await ResultsAsync(actor.Client, new { action = "add_role", userIds = new[] { one.Id }, role = auditor });
        Assert.Equal(("failed", DelegationCodes.PrivilegeCeiling), Row(refused[0]));
        Assert.Equal([viewer], await DelegationArrange.UserRolesAsync(App, one.Id));

        var removed = await ResultsAsync(admin, new { action = "remove_role", userIds = new[] { one.Id, two.Id }, role = viewer });
        Assert.All(removed, r => Assert.Equal(("done", null), Row(r)));
        Assert.Empty(await DelegationArrange.UserRolesAsync(App, one.Id));
        Assert.Equal([auditor], await DelegationArrange.UserRolesAsync(App, two.Id));
        Assert.All(await ResultsAsync(admin, new { action = "remove_role", userIds = new[] { one.Id }, role = viewer }), r => Assert.Equal(("unchanged", null), Row(r)));

        // The System role keeps its rule per row: a BackOffice user cannot get it.
        var system = await ResultsAsync(admin, new { action = "add_role", userIds = new[] { one.Id }, role = BuiltInRoles.System });
        Assert.Equal(("failed", "system_role_forbidden"), Row(system[0]));
    }

    [Fact]
    public async Task Malformed_input_is_refused_whole_and_changes_nothing()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var user = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var auditBefore = await AuditCountAsync();
        object[] bodies =
        [
            new { action = "disable", userIds = Array.Empty<Guid>() },
            new { action = "disable", userIds = Enumerable.Range(0, 201).Select(_ => Guid.NewGuid()).Prepend(user.Id) },
            new { action = "disable", userIds = new[] { user.Id, user.Id } },
            new { action = "archive", userIds = new[] { user.Id } },
            new { action = "add_role", userIds = new[] { user.Id } },
            new { action = "add_role", userIds = new[] { user.Id }, role = "no-such-role-" + Guid.NewGuid().ToString("N") },
            new { action = "disable", userIds = new[] { user.Id }, role = BuiltInRoles.Administrator },
            new { userIds = new[] { user.Id } },
        ];
        foreach (var body in bodies)
        {
            await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/users/bulk", body), HttpStatusCode.BadRequest, "validation_failed");
        }

        Assert.Equal(UserStatus.Active, await StatusAsync(user.Id));
        Assert.Equal(auditBefore, await AuditCountAsync());

        // Without MANAGE_USERS the endpoint itself is refused.
        using var viewer = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.Client.PostAsJsonAsync("/api/v1/users/bulk", new { action = "disable", userIds = new[] { user.Id } })).StatusCode);
        Assert.Equal(UserStatus.Active, await StatusAsync(user.Id));
    }

    [Fact]
    public async Task Invitations_go_only_to_invited_BackOffice_users_and_delete_removes()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var invited = await Seed.UserAsync(App, UserType.BackOffice, null);
        var active = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var (apiId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);

        var sent = await ResultsAsync(admin, new { action = "resend_invitation", userIds = new[] { invited.Id, active.Id, apiId } });
        Assert.Equal(("done", null), Row(sent[0]));
        Assert.Equal(("failed", "not_invited"), Row(sent[1]));
        Assert.Equal(("failed", "api_user"), Row(sent[2]));
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(1, await db.AuditEvents.CountAsync(e => e.Action == "user.invitation_sent" && e.TargetId == invited.Id.ToString()));
            Assert.Equal(0, await db.AuditEvents.CountAsync(e => e.Action == "user.invitation_sent" && e.TargetId == active.Id.ToString()));
        }

        var deleted = await ResultsAsync(admin, new { action = "delete", userIds = new[] { invited.Id, active.Id } });
        Assert.All(deleted, r => Assert.Equal(("done", null), Row(r)));
        Assert.False(await DelegationArrange.UserExistsAsync(App, invited.Username));
        Assert.False(await DelegationArrange.UserExistsAsync(App, active.Username));
    }

    [Fact]
    public async Task A_row_under_four_eyes_is_sent_for_approval_and_the_others_apply()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var flagged = Seed.Unique("Teller");
        await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new { name = flagged, privileges = new[] { Privileges.ViewUsers }, requiresApproval = true }), HttpStatusCode.Created);
        var one = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        var two = await Seed.UserAsync(App, UserType.BackOffice, Secret, flagged);
        using var maker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers]);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "grant_role" }, requestLifetimeHours = 72 }), HttpStatusCode.OK);
        try
        {
            var results = await ResultsAsync(maker.Client, new { action = "add_role", userIds = new[] { one.Id, two.Id }, role = flagged });
            Assert.Equal(("sent_for_approval", "approval_required"), Row(results[0]));
            Assert.Equal(("unchanged", null), Row(results[1]));
            Assert.Empty(await DelegationArrange.UserRolesAsync(App, one.Id));
            await using var scope = App.Scope(out var db);
            Assert.Equal(1, await db.ChangeRequests.CountAsync(r => r.TargetId == one.Id.ToString() && r.Status == Tessera.Core.Governance.ChangeRequestStatus.Pending));
        }
        finally
        {
            await using var scope = App.Scope(out var db);
            await db.Settings.Where(s => s.Key == "approval_policy").ExecuteDeleteAsync();
            scope.ServiceProvider.GetRequiredService<Tessera.Server.Governance.ApprovalPolicyCache>().Invalidate();
        }
    }

    [Fact]
    public async Task Unlock_of_an_account_that_is_not_locked_is_refused_with_not_locked()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var user = await Seed.UserAsync(App, UserType.BackOffice, Secret);
        await Expect.ProblemAsync(await admin.PostAsync($"/api/v1/users/{user.Id}/unlock", null), HttpStatusCode.Conflict, "not_locked");
        await Seed.UpdateUserAsync(App, user.Id, u => (u.Status, u.LockedUntil, u.FailedSignInCount) = (UserStatus.Locked, DateTime.UtcNow.AddHours(1), 5));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsync($"/api/v1/users/{user.Id}/unlock", null)).StatusCode);
        Assert.Equal(UserStatus.Active, await StatusAsync(user.Id));
    }

    private async Task<int> AuditCountAsync()
    {
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync();
    }
}
