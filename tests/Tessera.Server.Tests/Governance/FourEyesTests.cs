using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Credentials;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Governance;

public sealed class SqliteFourEyesTests(SqliteMailedHost host) : FourEyesTests<SqliteMailedHost>(host);

public sealed class PostgresFourEyesTests(PostgresMailedHost host) : FourEyesTests<PostgresMailedHost>(host);

/// <summary>
/// Four-eyes approval: a change the approval policy names is stored as a change request (202) instead of applied; a
/// different user holding APPROVE_CHANGES, and passing the delegation rules for the change, applies it, with every
/// invariant checked again at that moment. Each test sets the policy it needs and puts the default back (straight in
/// the store: switching an operation off through the API needs a second person, as one test shows).
/// </summary>
public abstract class FourEyesTests<THost>(THost host) : IClassFixture<THost> where THost : MailedHost
{
    private TesseraApp App => host.App;

    /// <summary>The privileges of a maker who manages users and roles (and, to prove self-approval is refused, may approve).</summary>
    private static readonly string[] MakerPrivileges =
        [Privileges.ViewUsers, Privileges.ManageUsers, Privileges.ViewRoles, Privileges.ManageRoles, Privileges.ViewAuditLog, Privileges.ApproveChanges];

    [Fact]
    public async Task A_grant_of_a_flagged_role_answers_202_with_the_request_and_applies_nothing()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (tellerId, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (_, plain) = await DelegationArrange.RoleAsync(admin, "plain", Privileges.ViewUsers);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        await PolicyAsync("grant_role");
        try
        {
            // A role without the flag is granted at once.
            await Expect.ResponseAsync(await maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", plain } }), HttpStatusCode.OK);

            var response = await maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles",
                new { roles = new object[] { "System", plain, new { name = teller, validUntil = "2030-01-31T00:00:00Z" } }, reason = "Covers the counter in January" });
            var request = await Expect.ResponseAsync(response, HttpStatusCode.Accepted);
            var id = request.GetProperty("id").GetGuid();
            Assert.Equal($"/api/v1/change-requests/{id}", response.Headers.Location?.ToString());
            Assert.Equal("pending", request.GetProperty("status").GetString());
            Assert.Equal("grant_role", request.GetProperty("operation").GetString());
            Assert.Equal("user.set_roles", request.GetProperty("kind").GetString());
            Assert.Equal(maker.Username, request.GetProperty("maker").GetProperty("username").GetString());
            Assert.Equal("Covers the counter in January", request.GetProperty("reason").GetString());
            Assert.Equal(userId, request.GetProperty("target").GetProperty("id").GetGuid());
            Assert.Equal(JsonValueKind.Null, request.GetProperty("checker").ValueKind);
            var preview = request.GetProperty("preview").EnumerateArray().Single();
            Assert.Equal("user.roles_changed", preview.GetProperty("action").GetString());
            Assert.Contains(teller, preview.GetProperty("details").ToString(), StringComparison.Ordinal);
            var expires = request.GetProperty("expiresAt").GetDateTime() - request.GetProperty("createdAt").GetDateTime();
            Assert.Equal(TimeSpan.FromHours(72), expires);

            Assert.Equal(["System", plain], await DelegationArrange.UserRolesAsync(App, userId));
            await using var scope = App.Scope(out var db);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.created" && a.TargetId == id.ToString()));
            Assert.False(await db.AuditEvents.AnyAsync(a => a.Action == "user.roles_changed" && a.Details!.Contains(teller)));

            // The reason may come as a header, too, and the maker reads their own request.
            var byHeader = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/users/{userId}/roles") { Content = JsonContent.Create(new { roles = new[] { "System", teller } }) };
            byHeader.Headers.Add("X-Change-Reason", "by header");
            var second = await Expect.ResponseAsync(await maker.Client.SendAsync(byHeader), HttpStatusCode.Accepted);
            Assert.Equal("by header", second.GetProperty("reason").GetString());
            await Expect.ProblemAsync(await maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller }, reason = new string('r', 1001) }),
                HttpStatusCode.BadRequest, "validation_failed");
            var read = await Expect.ResponseAsync(await maker.Client.GetAsync($"/api/v1/change-requests/{id}"), HttpStatusCode.OK);
            Assert.Equal("pending", read.GetProperty("status").GetString());

            // Taking the flag off a role would open it to grants without a second person: that falls under grant_role too.
            var unflag = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/roles/{tellerId}", new { name = teller, privileges = new[] { Privileges.ViewAuditLog }, requiresApproval = false }));
            Assert.Equal("grant_role", (await ReadAsync(maker.Client, unflag)).GetProperty("operation").GetString());
            Assert.True((await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/roles/{tellerId}"), HttpStatusCode.OK)).GetProperty("requiresApproval").GetBoolean());
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task Approval_is_refused_to_the_maker_to_a_non_checker_and_below_the_ceiling_then_applies_for_a_checker()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        using var bystander = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers, Privileges.ViewAuditLog]);
        using var low = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers, Privileges.ApproveChanges]);
        using var outsider = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ViewAuditLog, Privileges.ApproveChanges]);
        using var checker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageUsers, Privileges.ViewAuditLog, Privileges.ApproveChanges]);
        await PolicyAsync("grant_role");
        try
        {
            var id = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));

            await Expect.ProblemAsync(await maker.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { comment = "mine" }), HttpStatusCode.Forbidden, "self_approval");
            await Expect.ProblemAsync(await bystander.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { comment = "" }), HttpStatusCode.Forbidden, "forbidden");
            await DelegationArrange.RefusedAsync(await low.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.Forbidden,
                "privilege_ceiling", [Privileges.ViewAuditLog]);
            // Approving is making the change: a checker without MANAGE_USERS cannot change anyone's roles.
            await DelegationArrange.RefusedAsync(await outsider.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.Forbidden,
                "checker_lacks_privilege", [Privileges.ManageUsers]);
            Assert.Equal("pending", (await ReadAsync(admin, id)).GetProperty("status").GetString());
            Assert.Equal(["System"], await DelegationArrange.UserRolesAsync(App, userId));

            var approved = await Expect.ResponseAsync(await checker.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { comment = "Checked with HR" }), HttpStatusCode.OK);
            Assert.Equal("approved", approved.GetProperty("status").GetString());
            Assert.Equal(checker.Username, approved.GetProperty("checker").GetProperty("username").GetString());
            Assert.Equal("Checked with HR", approved.GetProperty("comment").GetString());
            Assert.Equal(["System", teller], await DelegationArrange.UserRolesAsync(App, userId));

            await using var scope = App.Scope(out var db);
            var applied = await db.AuditEvents.AsNoTracking().SingleAsync(a => a.Action == "user.roles_changed" && a.TargetId == userId.ToString() && a.Details!.Contains(teller));
            Assert.Equal(checker.Id, applied.ActorId);
            var details = JsonDocument.Parse(applied.Details!).RootElement.GetProperty("changeRequest");
            Assert.Equal(id, details.GetProperty("id").GetGuid());
            Assert.Equal(maker.Username, details.GetProperty("maker").GetProperty("username").GetString());
            Assert.Equal(checker.Username, details.GetProperty("checker").GetProperty("username").GetString());
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.approved" && a.TargetId == id.ToString()));

            // Decided once: a second approval changes nothing.
            await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.Conflict, "request_not_pending");
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task A_change_that_no_longer_holds_at_approval_ends_failed_with_its_code_and_changes_nothing()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (tellerId, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (_, other) = await DelegationArrange.RoleAsync(admin, "kept", Privileges.ViewUsers);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, [other]);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        await PolicyAsync("grant_role");
        try
        {
            // The maker would replace "kept" by the flagged role; the role is deleted before anyone approves.
            var id = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/roles/{tellerId}"), HttpStatusCode.NoContent);

            var failed = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.OK);
            Assert.Equal("failed", failed.GetProperty("status").GetString());
            Assert.Equal("unknown_role", failed.GetProperty("failure").GetProperty("code").GetString());
            Assert.Equal(["System", other], await DelegationArrange.UserRolesAsync(App, userId));
            await using var scope = App.Scope(out var db);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.failed" && a.TargetId == id.ToString() && a.Outcome == "failure"));
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task A_deleted_user_is_deleted_only_on_approval_and_the_last_administrator_stays()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        await PolicyAsync("delete_user");
        try
        {
            var id = await DeferredAsync(maker.Client.DeleteAsync($"/api/v1/users/{userId}"));
            Assert.Equal("delete_user", (await ReadAsync(admin, id)).GetProperty("operation").GetString());
            Assert.True(await UserExistsAsync(userId));

            Assert.Equal("approved", (await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.OK))
                .GetProperty("status").GetString());
            Assert.False(await UserExistsAsync(userId));
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task Reject_and_withdraw_end_a_request_and_nothing_applies()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        await PolicyAsync("grant_role");
        try
        {
            var rejected = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            await Expect.ProblemAsync(await maker.Client.PostAsJsonAsync($"/api/v1/change-requests/{rejected}/reject", new { comment = "no" }), HttpStatusCode.Forbidden, "self_approval");
            var answer = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{rejected}/reject", new { comment = "Not in January" }), HttpStatusCode.OK);
            Assert.Equal("rejected", answer.GetProperty("status").GetString());
            Assert.Equal("Not in January", answer.GetProperty("comment").GetString());

            var withdrawn = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{withdrawn}/withdraw", new { }), HttpStatusCode.Forbidden, "not_maker");
            Assert.Equal("withdrawn", (await Expect.ResponseAsync(await maker.Client.PostAsJsonAsync($"/api/v1/change-requests/{withdrawn}/withdraw", new { }), HttpStatusCode.OK))
                .GetProperty("status").GetString());
            await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{withdrawn}/approve", new { }), HttpStatusCode.Conflict, "request_not_pending");

            Assert.Equal(["System"], await DelegationArrange.UserRolesAsync(App, userId));
            var list = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/change-requests?status=rejected&limit=200"), HttpStatusCode.OK);
            Assert.Contains(list.GetProperty("items").EnumerateArray(), r => r.GetProperty("id").GetGuid() == rejected);
            Assert.DoesNotContain(list.GetProperty("items").EnumerateArray(), r => r.GetProperty("status").GetString() != "rejected");
            await Expect.ProblemAsync(await admin.GetAsync("/api/v1/change-requests?status=maybe"), HttpStatusCode.BadRequest, "validation_failed");
            await Expect.ProblemAsync(await admin.GetAsync("/api/v1/change-requests?cursor=garbage"), HttpStatusCode.BadRequest, "invalid_cursor");

            // Keyset pages, newest first: the withdrawn request, then the rejected one (older requests of other tests may follow).
            var first = await Expect.ResponseAsync(await maker.Client.GetAsync("/api/v1/change-requests?limit=1"), HttpStatusCode.OK);
            Assert.Equal(withdrawn, first.GetProperty("items").EnumerateArray().Single().GetProperty("id").GetGuid());
            var cursor = Uri.EscapeDataString(first.GetProperty("nextCursor").GetString()!);
            var second = await Expect.ResponseAsync(await maker.Client.GetAsync($"/api/v1/change-requests?limit=1&cursor={cursor}"), HttpStatusCode.OK);
            Assert.Equal(rejected, second.GetProperty("items").EnumerateArray().Single().GetProperty("id").GetGuid());

            await using var scope = App.Scope(out var db);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.rejected" && a.TargetId == rejected.ToString()));
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.withdrawn" && a.TargetId == withdrawn.ToString()));
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task A_request_expires_when_its_lifetime_has_passed()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        await PolicyAsync("grant_role", hours: 1);
        try
        {
            var read = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            var decided = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            App.Clock.Advance(TimeSpan.FromMinutes(59));
            using (var checker = await Seed.AdminApiAsync(App))
            {
                Assert.Equal("pending", (await ReadAsync(checker, read)).GetProperty("status").GetString());
            }

            App.Clock.Advance(TimeSpan.FromMinutes(2));

            // The sweep ends what is due; the request it ends is audited once, and a second sweep finds nothing more of it.
            Assert.True(await App.Services.GetRequiredService<Tessera.Server.Governance.ChangeRequestExpiry>().SweepAsync(CancellationToken.None) >= 2);
            await using (var swept = App.Scope(out var sweptDb))
            {
                Assert.Equal("expired", (await sweptDb.ChangeRequests.AsNoTracking().SingleAsync(r => r.Id == read)).Status);
            }

            var lazy = await DeferredAsync((await DelegationArrange.ClientAsync(App, maker.Username, maker.Secret)).PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller } }));
            App.Clock.Advance(TimeSpan.FromMinutes(61));
            using var later = await Seed.AdminApiAsync(App);

            // Deciding finds it expired (and says so) without waiting for the sweep; so does reading.
            await Expect.ProblemAsync(await later.PostAsJsonAsync($"/api/v1/change-requests/{lazy}/approve", new { }), HttpStatusCode.Conflict, "request_expired");
            Assert.Equal("expired", (await ReadAsync(later, read)).GetProperty("status").GetString());
            Assert.Equal("expired", (await ReadAsync(later, decided)).GetProperty("status").GetString());
            Assert.Equal("expired", (await ReadAsync(later, lazy)).GetProperty("status").GetString());
            await Expect.ProblemAsync(await later.PostAsJsonAsync($"/api/v1/change-requests/{decided}/approve", new { }), HttpStatusCode.Conflict, "request_not_pending");
            Assert.Equal(["System"], await DelegationArrange.UserRolesAsync(App, userId));
            await using var scope = App.Scope(out var db);
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "change_request.expired" && a.TargetId == read.ToString()));
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task The_eligible_checkers_get_a_mail_and_the_maker_and_others_do_not()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var maker = await DelegationArrange.ActorAsync(App, admin, MakerPrivileges);
        using var checker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ApproveChanges]);
        using var bystander = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);
        await PolicyAsync("grant_role");
        try
        {
            var id = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", teller }, reason = "Quarter end" }));

            await using var scope = App.Scope(out var db);
            var mails = await db.OutboxMessages.AsNoTracking().Where(m => m.Subject.Contains(maker.Username)).ToListAsync();
            Assert.Contains(mails, m => m.To == $"{checker.Username}@delegation.test");
            Assert.DoesNotContain(mails, m => m.To == $"{maker.Username}@delegation.test");
            Assert.DoesNotContain(mails, m => m.To == $"{bystander.Username}@delegation.test");
            var mail = mails.Single(m => m.To == $"{checker.Username}@delegation.test");
            Assert.Contains("grant_role", mail.Subject, StringComparison.Ordinal);
            var text = App.Services.GetRequiredService<Tessera.Server.Mail.OutboxBodies>().Unprotect(mail.TextBody);
            Assert.Contains($"/admin/approvals?id={id}", text, StringComparison.Ordinal);
            Assert.Contains("Quarter end", text, StringComparison.Ordinal);

            // The outbox delivers it: the checker's mail reaches the SMTP server, naming the maker and the operation.
            var delivered = await host.Smtp.WaitForMessageAsync(m => m.To.Contains($"{checker.Username}@delegation.test") && m.Subject.Contains(maker.Username, StringComparison.Ordinal), TimeSpan.FromSeconds(20));
            Assert.Contains("grant_role", delivered.Subject, StringComparison.Ordinal);
            Assert.Contains($"/admin/approvals?id={id}", delivered.Text, StringComparison.Ordinal);
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task Each_operation_is_deferred_when_the_policy_names_it()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, teller) = await FlaggedRoleAsync(admin, Privileges.ViewAuditLog);
        var (roleId, role) = await DelegationArrange.RoleAsync(admin, "defined", Privileges.ViewUsers);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, _) = await DelegationArrange.GroupAsync(admin, [teller]);
        var password = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/password-policy"), HttpStatusCode.OK);
        var mfa = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK);
        using var maker = await DelegationArrange.ActorAsync(App, admin,
            [.. MakerPrivileges, Privileges.ManageGroups, Privileges.ManagePasswordPolicy, Privileges.ManageAuthenticationPolicy]);
        await PolicyAsync("grant_role", "change_role_definition", "change_password_policy", "change_mfa_policy");
        try
        {
            // grant_role through a group membership: the group carries the flagged role.
            var membership = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new { userIds = new[] { userId } }));
            Assert.Equal("grant_role", (await ReadAsync(admin, membership)).GetProperty("operation").GetString());

            var definition = await DeferredAsync(maker.Client.PutAsJsonAsync($"/api/v1/roles/{roleId}",
                new { name = role, description = "changed", privileges = new[] { Privileges.ViewUsers, Privileges.ViewRoles } }));
            Assert.Equal("change_role_definition", (await ReadAsync(admin, definition)).GetProperty("operation").GetString());

            var passwordBody = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(password.GetRawText())!;
            passwordBody["minLength"] = JsonSerializer.SerializeToElement(password.GetProperty("minLength").GetInt32() + 1);
            var passwordRequest = await DeferredAsync(maker.Client.PutAsJsonAsync("/api/v1/password-policy", passwordBody));
            Assert.Equal("change_password_policy", (await ReadAsync(admin, passwordRequest)).GetProperty("operation").GetString());

            var mfaBody = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(mfa.GetRawText())!;
            mfaBody["stepUpMinutes"] = JsonSerializer.SerializeToElement(mfa.GetProperty("stepUpMinutes").GetInt32() + 1);
            var mfaRequest = await DeferredAsync(maker.Client.PutAsJsonAsync("/api/v1/mfa-policy", mfaBody));
            Assert.Equal("change_mfa_policy", (await ReadAsync(admin, mfaRequest)).GetProperty("operation").GetString());

            // Nothing applied yet.
            await DelegationArrange.AssertGroupAsync(App, groupId, [teller], []);
            Assert.Equal(password.GetProperty("minLength").GetInt32(), (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/password-policy"), HttpStatusCode.OK)).GetProperty("minLength").GetInt32());
            Assert.Equal(mfa.GetProperty("stepUpMinutes").GetInt32(), (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK)).GetProperty("stepUpMinutes").GetInt32());
            await DelegationArrange.AssertRoleAsync(App, roleId, role, Privileges.ViewUsers);

            // Each applies on approval.
            foreach (var id in new[] { membership, definition, passwordRequest, mfaRequest })
            {
                Assert.Equal("approved", (await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.OK))
                    .GetProperty("status").GetString());
            }

            await DelegationArrange.AssertGroupAsync(App, groupId, [teller], [userId]);
            await DelegationArrange.AssertRoleAsync(App, roleId, role, Privileges.ViewRoles, Privileges.ViewUsers);
            Assert.Equal(password.GetProperty("minLength").GetInt32() + 1, (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/password-policy"), HttpStatusCode.OK)).GetProperty("minLength").GetInt32());
            Assert.Equal(mfa.GetProperty("stepUpMinutes").GetInt32() + 1, (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/mfa-policy"), HttpStatusCode.OK)).GetProperty("stepUpMinutes").GetInt32());
        }
        finally
        {
            await ResetPolicyAsync();
            await using var scope = App.Scope(out var db);
            await db.Settings.Where(s => s.Key == "password_policy" || s.Key == "mfa_policy").ExecuteDeleteAsync();
        }
    }

    [Fact]
    public async Task A_separation_of_duties_constraint_waits_for_a_checker_who_may_make_it()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, a) = await DelegationArrange.RoleAsync(admin, "sod-a");
        var (_, b) = await DelegationArrange.RoleAsync(admin, "sod-b");
        using var maker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ManageGovernance]);
        using var checker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ApproveChanges]);
        await PolicyAsync("change_sod_constraints");
        try
        {
            var name = Seed.Unique("sod");
            var id = await DeferredAsync(maker.Client.PostAsJsonAsync("/api/v1/sod-constraints", new { name, roles = new[] { a, b } }));
            Assert.Equal("change_sod_constraints", (await ReadAsync(admin, id)).GetProperty("operation").GetString());
            var listed = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/sod-constraints"), HttpStatusCode.OK);
            Assert.DoesNotContain(listed.GetProperty("items").EnumerateArray(), c => c.GetProperty("name").GetString() == name);

            // Approving a constraint is making one: APPROVE_CHANGES without MANAGE_GOVERNANCE is not enough, and the request waits.
            var refused = await Expect.ProblemAsync(await checker.Client.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.Forbidden, "checker_lacks_privilege");
            Assert.Contains(Privileges.ManageGovernance, refused.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()));
            Assert.Equal("pending", (await ReadAsync(admin, id)).GetProperty("status").GetString());

            Assert.Equal("approved", (await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.OK))
                .GetProperty("status").GetString());
            listed = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/sod-constraints"), HttpStatusCode.OK);
            Assert.Contains(listed.GetProperty("items").EnumerateArray(), c => c.GetProperty("name").GetString() == name);
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    [Fact]
    public async Task Relaxing_the_policy_needs_a_second_person_and_tightening_it_does_not()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var governor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ManageGovernance]);
        try
        {
            await Expect.ProblemAsync(await governor.Client.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "grant_roles" } }), HttpStatusCode.BadRequest, "validation_failed");
            await Expect.ProblemAsync(await governor.Client.PutAsJsonAsync("/api/v1/approval-policy", new { operations = Array.Empty<string>(), requestLifetimeHours = 721 }), HttpStatusCode.BadRequest, "validation_failed");

            var tightened = await Expect.ResponseAsync(await governor.Client.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "delete_user", "grant_role" } }), HttpStatusCode.OK);
            Assert.Equal(["grant_role", "delete_user"], tightened.GetProperty("operations").EnumerateArray().Select(o => o.GetString()));
            Assert.Equal(72, tightened.GetProperty("requestLifetimeHours").GetInt32());
            await Expect.ResponseAsync(await governor.Client.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "delete_user", "grant_role" }, requestLifetimeHours = 24 }), HttpStatusCode.OK);

            var id = await DeferredAsync(governor.Client.PutAsJsonAsync("/api/v1/approval-policy", new { operations = new[] { "grant_role" }, requestLifetimeHours = 24 }));
            var request = await ReadAsync(admin, id);
            Assert.Equal("change_approval_policy", request.GetProperty("operation").GetString());
            Assert.Equal("approval_policy.set", request.GetProperty("kind").GetString());
            Assert.Equal(["grant_role", "delete_user"], (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/approval-policy"), HttpStatusCode.OK))
                .GetProperty("operations").EnumerateArray().Select(o => o.GetString()));

            await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/change-requests/{id}/approve", new { }), HttpStatusCode.OK);
            Assert.Equal(["grant_role"], (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/approval-policy"), HttpStatusCode.OK))
                .GetProperty("operations").EnumerateArray().Select(o => o.GetString()));
            await using var scope = App.Scope(out var db);
            Assert.True(await db.AuditEvents.AnyAsync(a => a.Action == "approval_policy.changed" && a.Details!.Contains(id.ToString())));
        }
        finally
        {
            await ResetPolicyAsync();
        }
    }

    private static async Task<(Guid Id, string Name)> FlaggedRoleAsync(HttpClient admin, params string[] privileges)
    {
        var name = Seed.Unique("Teller");
        var role = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new { name, description = "four-eyes test", privileges, requiresApproval = true }), HttpStatusCode.Created);
        Assert.True(role.GetProperty("requiresApproval").GetBoolean());
        return (role.GetProperty("id").GetGuid(), name);
    }

    private async Task PolicyAsync(string operation, params string[] more) => await PolicyAsync(operation, 72, more);

    private async Task PolicyAsync(string operation, int hours, params string[] more)
    {
        using var admin = await Seed.AdminApiAsync(App);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync("/api/v1/approval-policy", new { operations = more.Prepend(operation), requestLifetimeHours = hours }), HttpStatusCode.OK);
    }

    /// <summary>Back to the default, straight in the store (through the API, switching an operation off needs approval).</summary>
    private async Task ResetPolicyAsync()
    {
        await using var scope = App.Scope(out var db);
        await db.Settings.Where(s => s.Key == "approval_policy").ExecuteDeleteAsync();
        scope.ServiceProvider.GetRequiredService<Tessera.Server.Governance.ApprovalPolicyCache>().Invalidate();
    }

    private static async Task<Guid> DeferredAsync(Task<HttpResponseMessage> sent)
    {
        var response = await sent;
        var body = await Expect.ResponseAsync(response, HttpStatusCode.Accepted);
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/change-requests/{id}", response.Headers.Location?.ToString());
        return id;
    }

    private static async Task<JsonElement> ReadAsync(HttpClient client, Guid id)
        => await Expect.ResponseAsync(await client.GetAsync($"/api/v1/change-requests/{id}"), HttpStatusCode.OK);

    private async Task<bool> UserExistsAsync(Guid id)
    {
        await using var scope = App.Scope(out var db);
        return await db.Users.AnyAsync(u => u.Id == id);
    }
}
