using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Tessera.Core.Users;
using Tessera.Server.Governance;
using Tessera.Server.SignIn;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Governance;

public sealed class SqliteTimeBoundAccessTests(SqliteHost host) : TimeBoundAccessTests<SqliteHost>(host);

public sealed class PostgresTimeBoundAccessTests(PostgresHost host) : TimeBoundAccessTests<PostgresHost>(host);

/// <summary>
/// Time-bound access: a role grant or group membership counts from its validFrom (inclusive) until its validUntil
/// (exclusive), read at the test clock's now by every decision (/authorize, the permissions answer, tokens at
/// issuance, the Back Office); the answers show each assignment's state; the lapse is audited once by the sweep.
/// The clock moves by minutes, so that the tokens of a test (15 minutes) outlive it.
/// </summary>
public abstract class TimeBoundAccessTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private DateTime Now => App.Clock.GetUtcNow().UtcDateTime;

    [Fact]
    public async Task Authorize_and_permissions_follow_a_grant_across_its_start_and_its_end()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "teller", "VIEW_AUDIT_LOG");
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var from = Now.AddMinutes(2);
        var until = Now.AddMinutes(6);

        var set = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validFrom = from, validUntil = until } },
        }), HttpStatusCode.OK);
        var pending = Assignment(set, "roleAssignments", role);
        Assert.Equal("pending", pending.GetProperty("state").GetString());
        Assert.Equal(from, pending.GetProperty("validFrom").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(until, pending.GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal("active", Assignment(set, "roleAssignments", "System").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, Assignment(set, "roleAssignments", "System").GetProperty("validUntil").ValueKind);
        Assert.Contains(role, Names(set, "roles"));

        // Before the start: stored and shown, but it grants nothing.
        Assert.False(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
        Assert.DoesNotContain("VIEW_AUDIT_LOG", await PermissionsAsync(admin, userId));

        // Exactly at the start it counts (from is inclusive); the cached standing does not outlive the boundary.
        App.Clock.Advance(from - Now);
        Assert.True(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
        Assert.Contains("VIEW_AUDIT_LOG", await PermissionsAsync(admin, userId));
        var active = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        Assert.Equal("active", Assignment(active, "roleAssignments", role).GetProperty("state").GetString());

        // Exactly at the end it no longer counts (until is exclusive); the grant stays listed, as expired.
        App.Clock.Advance(until - Now);
        Assert.False(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
        Assert.DoesNotContain("VIEW_AUDIT_LOG", await PermissionsAsync(admin, userId));
        var expired = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        Assert.Equal("expired", Assignment(expired, "roleAssignments", role).GetProperty("state").GetString());
        Assert.Contains(role, Names(expired, "roles"));
    }

    [Fact]
    public async Task A_group_membership_gives_the_group_roles_only_while_it_is_valid_and_group_answers_show_it()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "clerk", "VIEW_AUDIT_LOG");
        var (userId, username, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, [role]);
        var until = Now.AddMinutes(3);

        var set = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new
        {
            userIds = new object[] { new { id = userId, validUntil = until } },
        }), HttpStatusCode.OK);
        var member = set.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == userId);
        Assert.Equal(username, member.GetProperty("username").GetString());
        Assert.Equal("active", member.GetProperty("state").GetString());
        Assert.Equal(until, member.GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.True(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
        var user = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        Assert.Equal("active", Assignment(user, "groupMemberships", group).GetProperty("state").GetString());

        App.Clock.Advance(until - Now);
        Assert.False(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
        Assert.DoesNotContain("VIEW_AUDIT_LOG", await PermissionsAsync(admin, userId));
        var after = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/groups/{groupId}"), HttpStatusCode.OK);
        Assert.Equal("expired", after.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == userId).GetProperty("state").GetString());
        user = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        Assert.Equal("expired", Assignment(user, "groupMemberships", group).GetProperty("state").GetString());
        Assert.Contains(group, Names(user, "groups"));

        // A bare id again: the membership holds for good.
        var renewed = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new { userIds = new[] { userId } }), HttpStatusCode.OK);
        Assert.Equal("active", renewed.GetProperty("members")[0].GetProperty("state").GetString());
        Assert.True(await AuthorizedAsync(admin, userId, "VIEW_AUDIT_LOG"));
    }

    [Fact]
    public async Task A_token_carries_only_the_roles_valid_when_it_is_issued_and_the_API_follows_the_end_at_once()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "reader", "VIEW_AUDIT_LOG");
        var (userId, username, secret) = await DelegationArrange.ApiUserAsync(admin, []);
        var until = Now.AddMinutes(4);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = until } },
        }), HttpStatusCode.OK);

        using var anonymous = App.Client();
        var before = await Seed.TokenAsync(anonymous, username, secret);
        Assert.Contains("VIEW_AUDIT_LOG", Claims(before, TesseraClaims.Privilege));
        Assert.Contains(role, Claims(before, "role"));
        using var early = Seed.WithBearer(App, before);
        await Expect.ResponseAsync(await early.GetAsync("/api/v1/audit-events?limit=1"), HttpStatusCode.OK);

        App.Clock.Advance(until - Now + TimeSpan.FromSeconds(1));
        var after = await Seed.TokenAsync(anonymous, username, secret);
        Assert.DoesNotContain("VIEW_AUDIT_LOG", Claims(after, TesseraClaims.Privilege));
        Assert.DoesNotContain(role, Claims(after, "role"));
        Assert.Contains("System", Claims(after, "role"));

        // The token issued before still names the privilege, but the API asks the standing now.
        Assert.Equal(HttpStatusCode.Forbidden, (await early.GetAsync("/api/v1/audit-events?limit=1")).StatusCode);
    }

    [Fact]
    public async Task The_Back_Office_lets_a_user_in_while_the_grant_is_valid_and_refuses_after_it_ends()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "auditor", "VIEW_AUDIT_LOG");
        const string password = "Harbour-Lantern-5521";
        var user = await Seed.UserAsync(App, UserType.BackOffice, password);
        var until = Now.AddMinutes(4);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{user.Id}/roles", new
        {
            roles = new object[] { new { name = role, validUntil = until } },
        }), HttpStatusCode.OK);

        using var browser = App.Client(cookies: true);
        var signIn = await Seed.SignInAsync(browser, user.Username, password);
        Assert.True(signIn.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.OK, $"sign-in: {(int)signIn.StatusCode}");
        var allowed = await browser.GetAsync("/admin/audit");
        Assert.True(allowed.StatusCode == HttpStatusCode.OK, $"before the end: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");

        App.Clock.Advance(until - Now + TimeSpan.FromSeconds(1));
        var refused = await browser.GetAsync("/admin/audit");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task The_sweep_writes_access_expired_once_per_lapse_however_often_it_runs()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "temp", "VIEW_AUDIT_LOG");
        var (userId, username, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, []);
        var until = Now.AddMinutes(2);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = until } },
        }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new
        {
            userIds = new object[] { new { id = userId, validUntil = until.AddMinutes(1) } },
        }), HttpStatusCode.OK);
        var sweep = App.Services.GetRequiredService<AccessLapseSweep>();

        // Not yet ended: nothing to record.
        await sweep.SweepAsync(CancellationToken.None);
        Assert.Empty(await ExpiredEventsAsync(userId));

        App.Clock.Advance(until.AddMinutes(1) - Now + TimeSpan.FromSeconds(1));
        await Task.WhenAll(sweep.SweepAsync(CancellationToken.None), sweep.SweepAsync(CancellationToken.None));
        await sweep.SweepAsync(CancellationToken.None);

        var events = await ExpiredEventsAsync(userId);
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(username, e.TargetName));
        Assert.All(events, e => Assert.Equal("user", e.TargetType));
        Assert.Single(events, e => e.Details!.Contains($"\"role\":\"{role}\"", StringComparison.Ordinal) && e.Details.Contains("validUntil", StringComparison.Ordinal));
        Assert.Single(events, e => e.Details!.Contains($"\"group\":\"{group}\"", StringComparison.Ordinal));

        await using (var scope = App.Scope(out var db))
        {
            Assert.NotNull((await db.UserRoles.AsNoTracking().SingleAsync(r => r.UserId == userId && r.Role!.Name == role)).LapseRecordedAt);
            Assert.NotNull((await db.GroupMembers.AsNoTracking().SingleAsync(m => m.UserId == userId && m.GroupId == groupId)).LapseRecordedAt);
        }

        // Renewed, the grant's next end is a new lapse, recorded once again.
        var renewedUntil = Now.AddMinutes(1);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = renewedUntil } },
        }), HttpStatusCode.OK);
        App.Clock.Advance(renewedUntil - Now);
        await sweep.SweepAsync(CancellationToken.None);
        await sweep.SweepAsync(CancellationToken.None);
        Assert.Equal(3, (await ExpiredEventsAsync(userId)).Count);
    }

    [Fact]
    public async Task The_users_list_finds_assignments_that_end_within_the_days_asked()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "soon", "VIEW_USERS");
        var (soonId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (laterId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (lastingId, _, _) = await DelegationArrange.ApiUserAsync(admin, [role]);
        var (groupId, _) = await DelegationArrange.GroupAsync(admin, []);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{soonId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = Now.AddDays(3) } },
        }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new
        {
            userIds = new object[] { new { id = laterId, validUntil = Now.AddDays(20) } },
        }), HttpStatusCode.OK);

        var week = await AllIdsAsync(admin, "expiring=7");
        Assert.Contains(soonId, week);
        Assert.DoesNotContain(laterId, week);
        Assert.DoesNotContain(lastingId, week);

        var month = await AllIdsAsync(admin, "expiring=30");
        Assert.Contains(soonId, month);
        Assert.Contains(laterId, month);
        Assert.DoesNotContain(lastingId, month);

        // Paged one by one, the same users, none twice.
        var paged = await AllIdsAsync(admin, "expiring=30", limit: 1);
        Assert.Equal(month.Order(), paged.Order());

        foreach (var bad in new[] { "0", "3651", "-1", "abc", "7.5" })
        {
            var problem = await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/users?expiring={bad}"), HttpStatusCode.BadRequest, "validation_failed");
            Assert.True(problem.GetProperty("errors").TryGetProperty("expiring", out _), problem.ToString());
        }
    }

    [Fact]
    public async Task A_malformed_or_lapsed_validity_and_a_time_bound_System_role_are_refused()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "bad", "VIEW_USERS");
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, _) = await DelegationArrange.GroupAsync(admin, []);

        async Task RefusedAsync(HttpResponseMessage response, string member)
        {
            var problem = await Expect.ProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
            Assert.True(problem.GetProperty("errors").TryGetProperty(member, out _), $"expected an error on {member}: {problem}");
        }

        Task<HttpResponseMessage> RolesAsync(object entry) => admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new { roles = new[] { "System", entry } });

        await RefusedAsync(await RolesAsync(new { name = role, validFrom = Now.AddDays(2), validUntil = Now.AddDays(1) }), "roles[1].validUntil");
        var tomorrow = Now.AddDays(1);
        await RefusedAsync(await RolesAsync(new { name = role, validFrom = tomorrow, validUntil = tomorrow }), "roles[1].validUntil");
        await RefusedAsync(await RolesAsync(new { name = role, validUntil = Now.AddDays(3660) }), "roles[1].validUntil");
        await RefusedAsync(await RolesAsync(new { name = role, validFrom = Now.AddDays(3660) }), "roles[1].validFrom");
        await RefusedAsync(await RolesAsync(new { name = role, validUntil = Now.AddMinutes(-1) }), "roles[1].validUntil");
        await RefusedAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { new { name = "System", validUntil = Now.AddDays(30) } },
        }), "roles[0]");
        await RefusedAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupId}/members", new
        {
            userIds = new object[] { new { id = userId, validUntil = Now.AddSeconds(-1) } },
        }), "userIds[0].validUntil");
        await RefusedAsync(await admin.PostAsJsonAsync("/api/v1/users", new
        {
            username = Seed.Unique("api"), email = Seed.Unique("x") + "@example.test", type = "api", password = DelegationArrange.Secret(),
            roles = new object[] { new { name = "System", validFrom = Now.AddDays(1) } },
        }), "roles[0]");

        var system = await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { new { name = "system", validUntil = Now.AddDays(30) } },
        }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.Contains("System role cannot be time-bound", system.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Nothing of it was stored: the user still holds System alone, for good.
        var user = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        var held = Assert.Single(user.GetProperty("roleAssignments").EnumerateArray());
        Assert.Equal("System", held.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, held.GetProperty("validUntil").ValueKind);
    }

    [Fact]
    public async Task Changing_only_the_validity_of_a_grant_is_a_change_audited_with_both_ranges()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "range", "VIEW_USERS");
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, [role]);
        var until = Now.AddDays(10);

        var changed = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = until } },
        }), HttpStatusCode.OK);
        Assert.Equal(until, Assignment(changed, "roleAssignments", role).GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));

        // The same again changes nothing.
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validUntil = until } },
        }), HttpStatusCode.OK);

        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        var events = await db.AuditEvents.AsNoTracking().Where(e => e.Action == "user.roles_changed" && e.TargetId == userId.ToString()).ToListAsync();
        var details = JsonDocument.Parse(Assert.Single(events).Details!).RootElement;
        Assert.Contains(role, details.GetProperty("from").EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()));
        var to = details.GetProperty("to").EnumerateArray().Single(e => e.ValueKind == JsonValueKind.Object);
        Assert.Equal(role, to.GetProperty("name").GetString());
        Assert.Equal(until, to.GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task The_user_and_group_pages_set_a_validity_and_mark_what_has_expired()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, ending) = await DelegationArrange.RoleAsync(admin, "ending", "VIEW_USERS");
        var (_, added) = await DelegationArrange.RoleAsync(admin, "added", "VIEW_USERS");
        var (userId, username, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, [], userId);
        var until = Now.AddMinutes(2);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = ending, validUntil = until } },
        }), HttpStatusCode.OK);
        const string password = "Validity-Page-Password-1";
        var manager = await Seed.UserAsync(App, UserType.BackOffice, password, "Administrator");
        using var browser = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, manager.Username, password)).StatusCode);

        var page = await browser.GetStringAsync($"/admin/users/{userId}");
        Assert.Matches($"data-assignment=\"{ending}\" data-state=\"active\"", page);
        Assert.Contains("until " + until.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture) + " UTC", page, StringComparison.Ordinal);
        // Each input has its own label, naming the role for a screen reader.
        Assert.Matches($"<label for=\"(role-until-[^\"]+)\">Valid until \\(UTC\\)<span class=\"visually-hidden\"> for {ending}</span></label>\\s*<input type=\"datetime-local\" step=\"1\" id=\"\\1\"", page);

        // The form as the browser sends it: the ending role left as loaded, the new role until a day it names.
        var addedUntil = Now.AddDays(3);
        var form = new List<KeyValuePair<string, string>>
        {
            new("__RequestVerificationToken", Seed.AntiforgeryToken(page)),
            new("Roles", "System"), new("Roles", ending), new("Roles", added),
            new("RoleValidity[0].Key", ending), new("RoleValidity[0].From", ""), new("RoleValidity[0].Until", until.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)),
            new("RoleValidity[1].Key", added), new("RoleValidity[1].From", ""), new("RoleValidity[1].Until", addedUntil.ToString("yyyy-MM-ddTHH:mm", System.Globalization.CultureInfo.InvariantCulture)),
        };
        var posted = await browser.PostAsync($"/admin/users/{userId}?handler=Roles", new FormUrlEncodedContent(form));
        Assert.True(posted.StatusCode == HttpStatusCode.Redirect, $"{(int)posted.StatusCode}: {await posted.Content.ReadAsStringAsync()}");
        var user = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}"), HttpStatusCode.OK);
        Assert.Equal(until, Assignment(user, "roleAssignments", ending).GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(addedUntil, Assignment(user, "roleAssignments", added).GetProperty("validUntil").GetDateTime().ToUniversalTime(), TimeSpan.FromMinutes(1));

        // A date that is not one is refused at the form, and nothing changes.
        form[^1] = new("RoleValidity[1].Until", "someday");
        form[0] = new("__RequestVerificationToken", Seed.AntiforgeryToken(await browser.GetStringAsync($"/admin/users/{userId}")));
        var refused = await browser.PostAsync($"/admin/users/{userId}?handler=Roles", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("not a date and time", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The group page: the member's range set there.
        var groupPage = await browser.GetStringAsync($"/admin/groups/{groupId}");
        Assert.Matches($"data-member-row=\"{username}\" data-state=\"active\"", groupPage);
        var memberUntil = Now.AddMinutes(1);
        var groupPosted = await browser.PostAsync($"/admin/groups/{groupId}", new FormUrlEncodedContent(new List<KeyValuePair<string, string>>
        {
            new("__RequestVerificationToken", Seed.AntiforgeryToken(groupPage)),
            new("Name", group), new("Description", "delegation test"), new("Members", userId.ToString()),
            new("MemberValidity[0].Key", userId.ToString()), new("MemberValidity[0].From", ""),
            new("MemberValidity[0].Until", memberUntil.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)),
        }));
        Assert.True(groupPosted.StatusCode == HttpStatusCode.Redirect, $"{(int)groupPosted.StatusCode}: {await groupPosted.Content.ReadAsStringAsync()}");

        // Past both ends: each is marked expired, and still listed.
        App.Clock.Advance(until - Now + TimeSpan.FromSeconds(1));
        page = await browser.GetStringAsync($"/admin/users/{userId}");
        Assert.Matches($"data-assignment=\"{ending}\" data-state=\"expired\"[\\s\\S]*?<span class=\"flag expired\">Expired</span>", page);
        Assert.Matches($"data-group=\"{group}\" data-state=\"expired\"", page);
        groupPage = await browser.GetStringAsync($"/admin/groups/{groupId}");
        Assert.Matches($"data-member-row=\"{username}\" data-state=\"expired\"", groupPage);
    }

    private async Task<List<Tessera.Server.Storage.AuditEvent>> ExpiredEventsAsync(Guid userId)
    {
        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.AsNoTracking().Where(e => e.Action == AccessLapseSweep.AuditAction && e.TargetId == userId.ToString()).ToListAsync();
    }

    private static async Task<bool> AuthorizedAsync(HttpClient admin, Guid userId, string privilege)
        => (await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/authorize", new { userId, privilege }), HttpStatusCode.OK)).GetProperty("allowed").GetBoolean();

    private static async Task<List<string>> PermissionsAsync(HttpClient admin, Guid userId)
        => [.. (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}/permissions"), HttpStatusCode.OK))
            .GetProperty("privileges").EnumerateArray().Select(p => p.GetProperty("name").GetString()!)];

    private static JsonElement Assignment(JsonElement user, string list, string name)
        => user.GetProperty(list).EnumerateArray().Single(a => a.GetProperty("name").GetString() == name);

    private static List<string> Names(JsonElement user, string list) => [.. user.GetProperty(list).EnumerateArray().Select(e => e.GetString()!)];

    private static List<string> Claims(string token, string type)
        => [.. new JsonWebTokenHandler().ReadJsonWebToken(token).Claims.Where(c => c.Type == type).Select(c => c.Value)];

    private static async Task<List<Guid>> AllIdsAsync(HttpClient admin, string filter, int limit = 200)
    {
        var ids = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users?{filter}&limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}")), HttpStatusCode.OK);
            ids.AddRange(page.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").ValueKind == JsonValueKind.String ? page.GetProperty("nextCursor").GetString() : null;
        }
        while (cursor is not null);

        Assert.Equal(ids.Count, ids.Distinct().Count());
        return ids;
    }
}

/// <summary>Time-bound access where a test needs a host of its own (other settings, a directory it may empty).</summary>
public sealed class TimeBoundAccessOwnHostTests
{
    /// <summary>
    /// With the longest caller cache (300 s), a standing read just before a grant begins or ends must not be served
    /// past that instant: the cache entry ends at the next validity boundary.
    /// </summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_cached_standing_of_a_caller_ends_at_the_next_boundary_of_their_grants(string provider)
    {
        var database = TestDatabase.Create(provider);
        await using var db = database;
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Tokens:CallerCacheSeconds"] = "300" }).Started();
        using var admin = await Seed.AdminApiAsync(app);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "cached", "VIEW_AUDIT_LOG");
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var from = app.Clock.GetUtcNow().UtcDateTime.AddMinutes(2);
        var until = from.AddMinutes(2);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{userId}/roles", new
        {
            roles = new object[] { "System", new { name = role, validFrom = from, validUntil = until } },
        }), HttpStatusCode.OK);

        async Task<bool> AllowedAsync()
            => (await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/authorize", new { userId, privilege = "VIEW_AUDIT_LOG" }), HttpStatusCode.OK)).GetProperty("allowed").GetBoolean();

        Assert.False(await AllowedAsync());
        app.Clock.Advance(from - app.Clock.GetUtcNow().UtcDateTime);
        Assert.True(await AllowedAsync());
        app.Clock.Advance(until - app.Clock.GetUtcNow().UtcDateTime);
        Assert.False(await AllowedAsync());
    }

    /// <summary>
    /// The last-administrator invariant counts only grants without an end: the directory never runs out of users who
    /// manage users by time passing. Each provider gets a host of its own, without the bootstrap API client.
    /// </summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_only_lasting_administrator_cannot_be_given_an_end(string provider)
    {
        var database = TestDatabase.Create(provider);
        await using var db = database;
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Bootstrap:ApiClientId"] = "" }).Started();
        var automation = await Seed.UserAsync(app, UserType.Api, "Automation-Secret-123", "System", "Administrator");
        using var client = app.Client();
        using var api = Seed.WithBearer(app, await Seed.TokenAsync(client, automation.Username, "Automation-Secret-123"));
        var now = app.Clock.GetUtcNow().UtcDateTime;
        var admin = (await api.GetFromJsonAsync<JsonElement>("/api/v1/users?username=admin")).GetProperty("items")[0].GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api/v1/users/{admin}")).StatusCode);

        // The automation user is the only one who manages users; with an end it would leave nobody once the end came.
        var bounded = new { roles = new object[] { "System", new { name = "Administrator", validUntil = now.AddDays(30) } } };
        await Expect.ProblemAsync(await api.PutAsJsonAsync($"/api/v1/users/{automation.Id}/roles", bounded), HttpStatusCode.Conflict, "last_admin");

        // With a second administrator for good, the end is accepted; now the second one cannot get an end either.
        var keeper = await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/users", new
        {
            username = "keeper", email = "keeper@tessera.test", type = "api", roles = new[] { "Administrator" }, password = "Rosewood-Lantern-4821",
        }), HttpStatusCode.Created);
        await Expect.ResponseAsync(await api.PutAsJsonAsync($"/api/v1/users/{automation.Id}/roles", bounded), HttpStatusCode.OK);
        await Expect.ProblemAsync(await api.PutAsJsonAsync($"/api/v1/users/{keeper.GetProperty("id").GetGuid()}/roles", bounded), HttpStatusCode.Conflict, "last_admin");
    }
}
