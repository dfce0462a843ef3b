using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Governance;

public sealed class SqliteAccessReviewTests(SqliteHost host) : AccessReviewTests<SqliteHost>(host);

public sealed class PostgresAccessReviewTests(PostgresHost host) : AccessReviewTests<PostgresHost>(host);

/// <summary>
/// Access-review campaigns over HTTP: the snapshot of the assignments in scope, the refusals of a malformed campaign,
/// decisions by named reviewers only and never on their own access, the close that applies revocations through the
/// directory's rules (and records why one did not apply), the completion report, and the audit trail.
/// </summary>
public abstract class AccessReviewTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Backoffice-Password-123";

    private TesseraApp App => host.App;

    private static string Due(int days = 14) => DateTime.UtcNow.AddDays(days).ToString("O");

    /// <summary>A BackOffice user with a password and a bearer client of their own (authorization code flow).</summary>
    private async Task<(User User, HttpClient Api)> BackOfficeAsync(params string[] roles)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password, roles);
        return (user, Seed.WithBearer(App, await AuthorizationCodeClient.TokenForAsync(App, user.Username, Password)));
    }

    private static async Task<JsonElement> CreateAsync(HttpClient admin, object body)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/access-reviews", body);
        var created = await Expect.ResponseAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/api/v1/access-reviews/{created.GetProperty("id").GetGuid()}", response.Headers.Location?.ToString());
        return created;
    }

    private static async Task<List<JsonElement>> ItemsAsync(HttpClient client, Guid review, string? decision = null)
    {
        var page = await Expect.ResponseAsync(await client.GetAsync($"/api/v1/access-reviews/{review}/items?limit=200" + (decision is null ? "" : "&decision=" + decision)), HttpStatusCode.OK);
        return [.. page.GetProperty("items").EnumerateArray()];
    }

    private static Guid ItemOf(IEnumerable<JsonElement> items, string username, string? role, string? group)
        => items.Single(i => i.GetProperty("username").GetString() == username && i.GetProperty("role").GetString() == role && i.GetProperty("group").GetString() == group).GetProperty("id").GetGuid();

    private static object Decide(params (Guid Id, string Decision, string? Comment)[] items)
        => new { items = items.Select(i => new { id = i.Id, decision = i.Decision, comment = i.Comment }) };

    private async Task<int> AuditCountAsync(string action, Guid review)
    {
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync(a => a.Action == action && a.TargetId == review.ToString());
    }

    private static async Task<IReadOnlyList<string>> PrivilegesAsync(HttpClient admin, Guid user)
    {
        var permissions = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{user}/permissions"), HttpStatusCode.OK);
        return [.. permissions.GetProperty("privileges").EnumerateArray().Select(p => p.GetProperty("name").GetString()!)];
    }

    [Fact]
    public async Task A_campaign_snapshots_direct_and_group_assignments_once_each_with_their_validity()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "teller", "VIEW_USERS");
        var direct = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var both = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var viaGroup = await Seed.UserAsync(App, UserType.BackOffice, null);
        var memberOnly = await Seed.UserAsync(App, UserType.BackOffice, null);
        var (_, tellers) = await DelegationArrange.GroupAsync(admin, [role], viaGroup.Id, both.Id);
        var (_, desk) = await DelegationArrange.GroupAsync(admin, [], memberOnly.Id, viaGroup.Id);
        var until = new DateTime(2031, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await using (var scope = App.Scope(out var db))
        {
            var grant = await db.UserRoles.SingleAsync(r => r.UserId == direct.Id);
            grant.ValidUntil = until;
            var membership = await db.GroupMembers.SingleAsync(m => m.UserId == viaGroup.Id && m.Group!.Name == tellers);
            membership.ValidFrom = until.AddYears(-2);
            await db.SaveChangesAsync();
        }

        var (reviewer, _) = await BackOfficeAsync();
        // The role named twice, in two spellings: still one item per assignment.
        var created = await CreateAsync(admin, new { name = "  Q1 tellers ", scope = new { roles = new[] { role, role.ToUpperInvariant() }, groups = new[] { desk } }, reviewers = new[] { reviewer.Id, reviewer.Id }, dueAt = Due() });
        var id = created.GetProperty("id").GetGuid();

        Assert.Equal("Q1 tellers", created.GetProperty("name").GetString());
        Assert.Equal("open", created.GetProperty("status").GetString());
        Assert.False(created.GetProperty("overdue").GetBoolean());
        Assert.Equal([role], created.GetProperty("scope").GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(reviewer.Username, created.GetProperty("reviewers").EnumerateArray().Single().GetProperty("username").GetString());
        var items = await ItemsAsync(admin, id);
        var keys = items.Select(i => (i.GetProperty("username").GetString(), i.GetProperty("role").GetString(), i.GetProperty("group").GetString())).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.Equal(
            new (string?, string?, string?)[]
            {
                (direct.Username, role, null),
                (both.Username, role, null),
                (both.Username, role, tellers),
                (viaGroup.Username, role, tellers),
                (viaGroup.Username, null, desk),
                (memberOnly.Username, null, desk),
            }.Order().ToList(),
            keys.Order().ToList());
        Assert.Equal(6, created.GetProperty("progress").GetProperty("total").GetInt32());
        Assert.Equal(6, created.GetProperty("progress").GetProperty("pending").GetInt32());
        var directItem = items.Single(i => i.GetProperty("username").GetString() == direct.Username);
        Assert.Equal(until, directItem.GetProperty("validUntil").GetDateTime().ToUniversalTime());
        Assert.Equal(JsonValueKind.Null, directItem.GetProperty("validFrom").ValueKind);
        Assert.Equal(until.AddYears(-2), items.Single(i => i.GetProperty("username").GetString() == viaGroup.Username && i.GetProperty("group").GetString() == tellers).GetProperty("validFrom").GetDateTime().ToUniversalTime());

        await using (var scope = App.Scope(out var db))
        {
            var created_ = await db.AuditEvents.SingleAsync(a => a.Action == "access_review.created" && a.TargetId == id.ToString());
            using var details = JsonDocument.Parse(created_.Details!);
            Assert.Equal(6, details.RootElement.GetProperty("items").GetInt32());
            Assert.Equal(4, details.RootElement.GetProperty("users").GetInt32());
        }
    }

    [Fact]
    public async Task A_malformed_campaign_is_refused_with_a_clear_code_and_nothing_is_stored()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "rev", "VIEW_USERS");
        var (reviewer, reviewerApi) = await BackOfficeAsync();
        var (apiUser, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var disabled = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await Seed.UpdateUserAsync(App, disabled.Id, u => u.Status = UserStatus.Disabled);
        var scope = new { roles = new[] { role } };
        var ok = new { name = "ok", scope, reviewers = new[] { reviewer.Id }, dueAt = Due() };
        int before;
        await using (var s = App.Scope(out var db0))
        {
            before = await db0.AccessReviews.CountAsync();
        }

        {
            async Task RefusedAsync(object body, HttpStatusCode status, string code, string? field = null)
            {
                var problem = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/access-reviews", body), status, code);
                if (field is not null)
                {
                    Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
                }
            }

            await RefusedAsync(new { name = "", scope, reviewers = new[] { reviewer.Id }, dueAt = Due() }, HttpStatusCode.BadRequest, "validation_failed", "name");
            await RefusedAsync(new { name = new string('n', 201), scope, reviewers = new[] { reviewer.Id }, dueAt = Due() }, HttpStatusCode.BadRequest, "validation_failed", "name");
            await RefusedAsync(new { name = "x", scope = new { roles = Array.Empty<string>(), groups = Array.Empty<string>() }, reviewers = new[] { reviewer.Id }, dueAt = Due() }, HttpStatusCode.BadRequest, "validation_failed", "scope");
            await RefusedAsync(new { name = "x", scope, reviewers = Array.Empty<Guid>(), dueAt = Due() }, HttpStatusCode.BadRequest, "validation_failed", "reviewers");
            await RefusedAsync(new { name = "x", scope, reviewers = Enumerable.Range(0, 51).Select(_ => Guid.NewGuid()), dueAt = Due() }, HttpStatusCode.BadRequest, "validation_failed", "reviewers");
            await RefusedAsync(new { name = "x", scope, reviewers = new[] { reviewer.Id }, dueAt = DateTime.UtcNow.AddMinutes(-1).ToString("O") }, HttpStatusCode.BadRequest, "validation_failed", "dueAt");
            await RefusedAsync(new { name = "x", scope, reviewers = new[] { reviewer.Id }, dueAt = Due(400) }, HttpStatusCode.BadRequest, "validation_failed", "dueAt");
            await RefusedAsync(new { name = "x", scope = new { roles = new[] { "no-such-role" } }, reviewers = new[] { reviewer.Id }, dueAt = Due() }, HttpStatusCode.Conflict, "unknown_role");
            await RefusedAsync(new { name = "x", scope = new { groups = new[] { "no-such-group" } }, reviewers = new[] { reviewer.Id }, dueAt = Due() }, HttpStatusCode.Conflict, "unknown_group");
            await RefusedAsync(new { name = "x", scope, reviewers = new[] { Guid.NewGuid() }, dueAt = Due() }, HttpStatusCode.Conflict, "unknown_reviewer");
            await RefusedAsync(new { name = "x", scope, reviewers = new[] { apiUser }, dueAt = Due() }, HttpStatusCode.Conflict, "reviewer_not_eligible");
            await RefusedAsync(new { name = "x", scope, reviewers = new[] { disabled.Id }, dueAt = Due() }, HttpStatusCode.Conflict, "reviewer_not_eligible");

            // Creating campaigns is for MANAGE_GOVERNANCE.
            await Expect.ProblemAsync(await reviewerApi.PostAsJsonAsync("/api/v1/access-reviews", ok), HttpStatusCode.Forbidden, "forbidden");

            await using var after = App.Scope(out var db);
            Assert.Equal(before, await db.AccessReviews.CountAsync());
        }
    }

    [Fact]
    public async Task Only_a_named_reviewer_decides_never_on_their_own_access_and_may_change_a_decision_until_the_close()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "clerk", "VIEW_USERS");
        var holder = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var (reviewer, reviewerApi) = await BackOfficeAsync(role);
        var (_, outsiderApi) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "clerks", scope = new { roles = new[] { role } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();
        var items = await ItemsAsync(reviewerApi, id);
        var holderItem = ItemOf(items, holder.Username, role, null);
        var ownItem = ItemOf(items, reviewer.Username, role, null);

        await Expect.ProblemAsync(await outsiderApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "keep", null))), HttpStatusCode.Forbidden, "not_a_reviewer");
        await Expect.ProblemAsync(await outsiderApi.GetAsync($"/api/v1/access-reviews/{id}"), HttpStatusCode.Forbidden, "not_a_reviewer");
        await Expect.ProblemAsync(await outsiderApi.GetAsync($"/api/v1/access-reviews/{id}/items"), HttpStatusCode.Forbidden, "not_a_reviewer");
        // The administrator governs the campaign but is not named in it: governing is not reviewing.
        await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "keep", null))), HttpStatusCode.Forbidden, "not_a_reviewer");
        // All or none: the reviewer's own item spoils the batch.
        await Expect.ProblemAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "keep", null), (ownItem, "keep", null))), HttpStatusCode.Forbidden, "self_review");
        await Expect.ProblemAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "maybe", null))), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((Guid.NewGuid(), "keep", null))), HttpStatusCode.Conflict, "unknown_item");
        Assert.All(await ItemsAsync(admin, id), i => Assert.Equal(JsonValueKind.Null, i.GetProperty("decision").ValueKind));

        var kept = await Expect.ResponseAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "keep", "still on the desk"))), HttpStatusCode.OK);
        Assert.Equal(1, kept.GetProperty("progress").GetProperty("keep").GetInt32());
        var changed = await Expect.ResponseAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((holderItem, "revoke", "moved to sales"))), HttpStatusCode.OK);
        Assert.Equal(0, changed.GetProperty("progress").GetProperty("keep").GetInt32());
        Assert.Equal(1, changed.GetProperty("progress").GetProperty("revoke").GetInt32());
        Assert.Equal(1, changed.GetProperty("progress").GetProperty("pending").GetInt32());

        var revoked = Assert.Single(await ItemsAsync(reviewerApi, id, "revoke"));
        Assert.Equal("moved to sales", revoked.GetProperty("comment").GetString());
        Assert.Equal(reviewer.Username, revoked.GetProperty("decidedBy").GetString());
        Assert.Single(await ItemsAsync(reviewerApi, id, "pending"));
        Assert.Empty(await ItemsAsync(reviewerApi, id, "keep"));

        // The reviewer finds the campaign among theirs; the outsider's list is empty of it.
        var mine = await Expect.ResponseAsync(await reviewerApi.GetAsync("/api/v1/access-reviews?mine=true"), HttpStatusCode.OK);
        Assert.Contains(mine.GetProperty("items").EnumerateArray(), r => r.GetProperty("id").GetGuid() == id);
        var theirs = await Expect.ResponseAsync(await outsiderApi.GetAsync("/api/v1/access-reviews"), HttpStatusCode.OK);
        Assert.DoesNotContain(theirs.GetProperty("items").EnumerateArray(), r => r.GetProperty("id").GetGuid() == id);

        await using var scope = App.Scope(out var db);
        var decided = await db.AuditEvents.Where(a => a.Action == "access_review.decided" && a.TargetId == id.ToString()).OrderBy(a => a.Id).Select(a => a.Details!).ToListAsync();
        Assert.Equal(2, decided.Count);
        using var last = JsonDocument.Parse(decided[1]);
        Assert.Equal("revoke", last.RootElement.GetProperty("decision").GetString());
        Assert.Equal("keep", last.RootElement.GetProperty("previous").GetString());
        Assert.Equal(holder.Username, last.RootElement.GetProperty("user").GetString());
        Assert.Equal(role, last.RootElement.GetProperty("role").GetString());
        Assert.Equal(reviewer.Username, last.RootElement.GetProperty("reviewer").GetString());
    }

    [Fact]
    public async Task Closing_applies_each_revocation_through_the_directory_rules_and_records_its_outcome()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "payer", "VIEW_AUDIT_LOG");
        var direct = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var member = await Seed.UserAsync(App, UserType.BackOffice, null);
        var keeper = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var undecided = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var gone = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, [role], member.Id);
        var stillMember = await Seed.UserAsync(App, UserType.BackOffice, null);
        var (emptiedId, emptied) = await DelegationArrange.GroupAsync(admin, [role], stillMember.Id);
        var (apiId, apiName, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (reviewer, reviewerApi) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "payments", scope = new { roles = new[] { role, "System" } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();
        var items = await ItemsAsync(reviewerApi, id);
        var adminItem = ItemOf(items, TesseraApp.ApiClientId, "System", null);
        await Expect.ResponseAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide(
            (ItemOf(items, direct.Username, role, null), "revoke", null),
            (ItemOf(items, member.Username, role, group), "revoke", null),
            (ItemOf(items, keeper.Username, role, null), "keep", null),
            (ItemOf(items, gone.Username, role, null), "revoke", null),
            (ItemOf(items, stillMember.Username, role, emptied), "revoke", null),
            // An API user must hold System: the directory's invariant refuses this one at the close.
            (ItemOf(items, apiName, "System", null), "revoke", null),
            (adminItem, "keep", null))), HttpStatusCode.OK);
        Assert.Contains("VIEW_AUDIT_LOG", await PrivilegesAsync(admin, direct.Id));
        // Removed by hand before the close.
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{gone.Id}/roles", new { roles = Array.Empty<string>() }), HttpStatusCode.OK);
        // The group stops bringing the role: the membership under review no longer gives it, so it stays.
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{emptiedId}/roles", new { roles = Array.Empty<string>() }), HttpStatusCode.OK);

        var closed = await Expect.ResponseAsync(await admin.PostAsync($"/api/v1/access-reviews/{id}/close", null), HttpStatusCode.OK);

        Assert.Equal("closed", closed.GetProperty("status").GetString());
        var closing = closed.GetProperty("closing");
        Assert.Equal(2, closing.GetProperty("applied").GetInt32());
        Assert.Equal(2, closing.GetProperty("alreadyRemoved").GetInt32());
        Assert.Equal(1, closing.GetProperty("failed").GetInt32());
        Assert.Equal(0, closing.GetProperty("sentForApproval").GetInt32());
        var after = await ItemsAsync(admin, id);
        string? OutcomeOf(string username, string? r, string? g) => after.Single(i => i.GetProperty("id").GetGuid() == ItemOf(after, username, r, g)).GetProperty("outcome").GetString();
        Assert.Equal("applied", OutcomeOf(direct.Username, role, null));
        Assert.Equal("applied", OutcomeOf(member.Username, role, group));
        Assert.Equal("kept", OutcomeOf(keeper.Username, role, null));
        Assert.Equal("not_reviewed", OutcomeOf(undecided.Username, role, null));
        Assert.Equal("already_removed", OutcomeOf(gone.Username, role, null));
        Assert.Equal("already_removed", OutcomeOf(stillMember.Username, role, emptied));
        var emptiedNow = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/groups/{emptiedId}"), HttpStatusCode.OK);
        Assert.Equal(stillMember.Id, emptiedNow.GetProperty("members").EnumerateArray().Single().GetProperty("id").GetGuid());
        Assert.Equal("failed:system_role_required", OutcomeOf(apiName, "System", null));

        Assert.DoesNotContain("VIEW_AUDIT_LOG", await PrivilegesAsync(admin, direct.Id));
        Assert.DoesNotContain("VIEW_AUDIT_LOG", await PrivilegesAsync(admin, member.Id));
        Assert.Contains("VIEW_AUDIT_LOG", await PrivilegesAsync(admin, keeper.Id));
        Assert.Contains("VIEW_AUDIT_LOG", await PrivilegesAsync(admin, undecided.Id));
        var groupNow = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/groups/{groupId}"), HttpStatusCode.OK);
        Assert.Empty(groupNow.GetProperty("members").EnumerateArray());
        Assert.Contains("SYSTEM", (await DelegationArrange.UserRolesAsync(App, apiId)).Select(r => r.ToUpperInvariant()));

        // Closed is final: no more decisions, no second close.
        await Expect.ProblemAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide((adminItem, "keep", null))), HttpStatusCode.Conflict, "review_closed");
        await Expect.ProblemAsync(await admin.PostAsync($"/api/v1/access-reviews/{id}/close", null), HttpStatusCode.Conflict, "review_closed");
        await Expect.ProblemAsync(await reviewerApi.PostAsync($"/api/v1/access-reviews/{id}/close", null), HttpStatusCode.Forbidden, "forbidden");

        await using var scope = App.Scope(out var db);
        var revokedEvents = await db.AuditEvents.Where(a => a.Action == "access.revoked" && a.Details!.Contains(id.ToString())).ToListAsync();
        Assert.Equal(2, revokedEvents.Count);
        Assert.Contains(revokedEvents, e => e.TargetId == direct.Id.ToString());
        Assert.Contains(revokedEvents, e => e.TargetId == member.Id.ToString() && e.Details!.Contains(group));
        var closedEvent = await db.AuditEvents.SingleAsync(a => a.Action == "access_review.closed" && a.TargetId == id.ToString());
        using var details = JsonDocument.Parse(closedEvent.Details!);
        Assert.Equal(2, details.RootElement.GetProperty("applied").GetInt32());
        Assert.Equal(1, details.RootElement.GetProperty("failed").GetInt32());
        // The System role brings every API user of the host into scope: those nobody decided on are not reviewed.
        Assert.Equal(closing.GetProperty("notReviewed").GetInt32(), details.RootElement.GetProperty("notReviewed").GetInt32());
        Assert.True(details.RootElement.GetProperty("notReviewed").GetInt32() >= 1);
    }

    [Fact]
    public async Task A_revocation_the_delegation_rules_refuse_fails_alone_and_the_closer_cannot_lock_themself_out()
    {
        using var admin = await Seed.AdminApiAsync(App);
        // A governor who holds little: the administrators in scope outrank them; their own Administrator grant is theirs.
        var governor = await DelegationArrange.ActorAsync(App, admin, ["MANAGE_GOVERNANCE", "MANAGE_USERS", "VIEW_USERS"]);
        var (_, small) = await DelegationArrange.RoleAsync(admin, "small", "VIEW_USERS");
        var plain = await Seed.UserAsync(App, UserType.BackOffice, null, small);
        var strong = await Seed.UserAsync(App, UserType.BackOffice, null, small, "Administrator");
        var (reviewer, reviewerApi) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "small", scope = new { roles = new[] { small, governor.Role } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();
        var items = await ItemsAsync(reviewerApi, id);
        await Expect.ResponseAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide(
            (ItemOf(items, plain.Username, small, null), "revoke", null),
            (ItemOf(items, strong.Username, small, null), "revoke", null),
            (ItemOf(items, governor.Username, governor.Role, null), "revoke", null))), HttpStatusCode.OK);

        await Expect.ResponseAsync(await governor.Client.PostAsync($"/api/v1/access-reviews/{id}/close", null), HttpStatusCode.OK);

        var after = await ItemsAsync(admin, id);
        Assert.Equal("applied", after.Single(i => i.GetProperty("username").GetString() == plain.Username).GetProperty("outcome").GetString());
        Assert.Equal("failed:target_outranks_actor", after.Single(i => i.GetProperty("username").GetString() == strong.Username).GetProperty("outcome").GetString());
        Assert.Equal("failed:self_lockout", after.Single(i => i.GetProperty("username").GetString() == governor.Username).GetProperty("outcome").GetString());
        Assert.Contains("VIEW_USERS", await PrivilegesAsync(admin, strong.Id));
        Assert.Contains("MANAGE_GOVERNANCE", await PrivilegesAsync(admin, governor.Id));
        Assert.DoesNotContain("VIEW_USERS", await PrivilegesAsync(admin, plain.Id));
        Assert.True(await AuditCountAsync("access_review.closed", id) == 1);
    }

    [Fact]
    public async Task The_report_lists_every_item_as_quoted_CSV_or_JSON_and_items_page_by_cursor()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "rpt", "VIEW_USERS");
        var users = new List<User>();
        for (var n = 0; n < 5; n++)
        {
            users.Add(await Seed.UserAsync(App, UserType.BackOffice, null, role));
        }

        var (reviewer, reviewerApi) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "report", scope = new { roles = new[] { role } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();
        var items = await ItemsAsync(reviewerApi, id);
        var tricky = "=HYPERLINK(\"x\"), with a comma";
        await Expect.ResponseAsync(await reviewerApi.PostAsJsonAsync($"/api/v1/access-reviews/{id}/decisions", Decide(
            (ItemOf(items, users[0].Username, role, null), "keep", tricky),
            (ItemOf(items, users[1].Username, role, null), "revoke", "left"))), HttpStatusCode.OK);

        // Pages of two, by cursor, cover every item once.
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Expect.ResponseAsync(await reviewerApi.GetAsync($"/api/v1/access-reviews/{id}/items?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)), HttpStatusCode.OK);
            var batch = page.GetProperty("items").EnumerateArray().ToList();
            Assert.True(batch.Count <= 2);
            seen.AddRange(batch.Select(i => i.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(items.Select(i => i.GetProperty("id").GetGuid()).Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
        await Expect.ProblemAsync(await reviewerApi.GetAsync($"/api/v1/access-reviews/{id}/items?cursor=garbage"), HttpStatusCode.BadRequest, "invalid_cursor");
        await Expect.ProblemAsync(await reviewerApi.GetAsync($"/api/v1/access-reviews/{id}/items?decision=maybe"), HttpStatusCode.BadRequest, "validation_failed");

        var csvResponse = await reviewerApi.GetAsync($"/api/v1/access-reviews/{id}/report?format=csv");
        Assert.Equal(HttpStatusCode.OK, csvResponse.StatusCode);
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"access-review-{id}.csv", csvResponse.Content.Headers.ContentDisposition?.ToString());
        var lines = (await csvResponse.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("itemId,userId,username,role,group,validFrom,validUntil,decision,reviewer,decidedAt,comment,outcome", lines[0]);
        Assert.Equal(6, lines.Length);
        var keptLine = Assert.Single(lines, l => l.Contains(users[0].Username));
        Assert.Contains($",{role},,,,keep,{reviewer.Username},", keptLine);
        Assert.EndsWith(",\"'=HYPERLINK(\"\"x\"\"), with a comma\",", keptLine);
        Assert.Contains(",revoke,", Assert.Single(lines, l => l.Contains(users[1].Username)));
        Assert.Equal(3, lines.Count(l => l.Contains(",pending,")));

        var json = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/access-reviews/{id}/report?format=json"), HttpStatusCode.OK);
        Assert.Equal(id, json.GetProperty("review").GetProperty("id").GetGuid());
        Assert.Equal(5, json.GetProperty("items").GetArrayLength());
        Assert.Equal(tricky, json.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("username").GetString() == users[0].Username).GetProperty("comment").GetString());
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/access-reviews/{id}/report?format=xlsx"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/access-reviews/{Guid.NewGuid()}/report"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task An_open_campaign_past_its_due_date_reads_overdue()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "due", "VIEW_USERS");
        var (reviewer, _) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "due", scope = new { roles = new[] { role } }, reviewers = new[] { reviewer.Id }, dueAt = DateTime.UtcNow.AddHours(1).ToString("O") })).GetProperty("id").GetGuid();

        App.Clock.Advance(TimeSpan.FromHours(2));
        try
        {
            using var later = await Seed.AdminApiAsync(App);
            var review = await Expect.ResponseAsync(await later.GetAsync($"/api/v1/access-reviews/{id}"), HttpStatusCode.OK);
            Assert.Equal("open", review.GetProperty("status").GetString());
            Assert.True(review.GetProperty("overdue").GetBoolean());
        }
        finally
        {
            App.Clock.Advance(TimeSpan.FromHours(-2));
        }
    }

    [Fact]
    public async Task A_stored_revocation_replays_through_its_own_use_case_and_marks_the_item_that_sent_it_for_approval()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (roleId, role) = await DelegationArrange.RoleAsync(admin, "replay", "VIEW_USERS");
        var holder = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var (reviewer, _) = await BackOfficeAsync();
        var id = (await CreateAsync(admin, new { name = "replay", scope = new { roles = new[] { role } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();
        await using (var scope = App.Scope(out var db))
        {
            // As the close leaves an item whose revocation the approval policy deferred.
            var item = await db.AccessReviewItems.SingleAsync(i => i.ReviewId == id);
            item.Decision = "revoke";
            item.Outcome = "sent_for_approval";
            await db.SaveChangesAsync();
        }

        // The change as a change request stores it: serialized by its kind.
        var stored = JsonSerializer.Serialize<Tessera.Server.Changes.DirectoryChange>(new Tessera.Server.Changes.RevokeAccess(null, holder.Id, roleId, null, id));
        Assert.Contains("\"kind\":\"access.revoke\"", stored);
        var change = JsonSerializer.Deserialize<Tessera.Server.Changes.DirectoryChange>(stored)!;
        await using (var scope = App.Scope(out var db))
        {
            var replay = scope.ServiceProvider.GetServices<Tessera.Server.Changes.IChangeReplay>().Single(r => r.Replays(change));
            Assert.Null(await replay.ReplayAsync(change, CancellationToken.None));
        }

        Assert.DoesNotContain("VIEW_USERS", await PrivilegesAsync(admin, holder.Id));
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal("applied", await db.AccessReviewItems.Where(i => i.ReviewId == id).Select(i => i.Outcome).SingleAsync());
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "access.revoked" && a.TargetId == holder.Id.ToString()));
        }
    }

    [Fact]
    public async Task In_the_Back_Office_a_reviewer_keeps_a_whole_page_except_their_own_access_and_others_are_turned_away()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "page", "VIEW_USERS");
        var first = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var second = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var reviewer = await Seed.UserAsync(App, UserType.BackOffice, Password, role);
        var outsider = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var id = (await CreateAsync(admin, new { name = "page", scope = new { roles = new[] { role } }, reviewers = new[] { reviewer.Id }, dueAt = Due() })).GetProperty("id").GetGuid();

        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, reviewer.Username, Password);
        var html = await browser.GetStringAsync($"/admin/reviews/{id}");
        Assert.Contains("role=\"progressbar\"", html);
        Assert.Contains("Your own access", html);
        var form = new List<KeyValuePair<string, string>> { new("__RequestVerificationToken", Seed.AntiforgeryToken(html)) };
        // Every pending item offered on the page, and the reviewer's own slipped in: the service refuses that one, so none is kept.
        var items = await ItemsAsync(admin, id);
        form.AddRange(items.Select(i => new KeyValuePair<string, string>("PageItems", i.GetProperty("id").GetString()!)));
        var refused = await browser.PostAsync($"/admin/reviews/{id}?handler=KeepAll", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("your own access", await refused.Content.ReadAsStringAsync());
        Assert.All(await ItemsAsync(admin, id), i => Assert.Equal(JsonValueKind.Null, i.GetProperty("decision").ValueKind));

        form.RemoveAll(f => f.Key == "PageItems" && f.Value == ItemOf(items, reviewer.Username, role, null).ToString());
        var kept = await browser.PostAsync($"/admin/reviews/{id}?handler=KeepAll", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Redirect, kept.StatusCode);
        var after = await ItemsAsync(admin, id);
        Assert.Equal("keep", after.Single(i => i.GetProperty("username").GetString() == first.Username).GetProperty("decision").GetString());
        Assert.Equal("keep", after.Single(i => i.GetProperty("username").GetString() == second.Username).GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, after.Single(i => i.GetProperty("username").GetString() == reviewer.Username).GetProperty("decision").ValueKind);

        // Without antiforgery nothing is decided.
        var forged = await browser.PostAsync($"/admin/reviews/{id}?handler=Decide", new FormUrlEncodedContent(new Dictionary<string, string> { ["ItemId"] = ItemOf(items, first.Username, role, null).ToString(), ["Verdict"] = "revoke" }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);

        using var other = App.Client(cookies: true);
        await Seed.SignInAsync(other, outsider.Username, Password);
        Assert.Equal(HttpStatusCode.Forbidden, (await other.GetAsync($"/admin/reviews/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await other.GetAsync($"/admin/reviews/{id}?handler=Report")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/admin/reviews/{Guid.NewGuid()}")).StatusCode);
        var csv = await browser.GetAsync($"/admin/reviews/{id}?handler=Report&format=csv");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.StartsWith("itemId,userId,username", await csv.Content.ReadAsStringAsync());

        // The New review form is the governor's: a reviewer's post is forbidden; a governor's mistakes come back beside the fields.
        var reviewerPost = await browser.PostAsync("/admin/reviews", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(await browser.GetStringAsync("/admin/reviews")), ["Name"] = "mine",
        }));
        Assert.Equal(HttpStatusCode.Forbidden, reviewerPost.StatusCode);
        var governor = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        using var governing = App.Client(cookies: true);
        await Seed.SignInAsync(governing, governor.Username, Password);
        var page = await governing.GetStringAsync("/admin/reviews");
        Assert.Contains("id=\"new-review-form\"", page);
        var mistaken = await governing.PostAsync("/admin/reviews", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page), ["Name"] = "", ["Reviewers"] = "no-such-user", ["DueDate"] = "2020-01-01",
        }));
        Assert.Equal(HttpStatusCode.BadRequest, mistaken.StatusCode);
        Assert.Contains("No user has the username &#x27;no-such-user&#x27;.", await mistaken.Content.ReadAsStringAsync());
        var noScope = await governing.PostAsync("/admin/reviews", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page), ["Name"] = "x", ["Reviewers"] = reviewer.Username, ["DueDate"] = "2020-01-01",
        }));
        var noScopeHtml = await noScope.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, noScope.StatusCode);
        Assert.Contains("scope names at least one role or group.", noScopeHtml);
        Assert.Contains("dueAt must be in the future.", noScopeHtml);
    }
}
