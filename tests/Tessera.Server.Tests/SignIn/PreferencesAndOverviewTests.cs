using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqlitePreferencesAndOverviewTests(SqliteHost host) : PreferencesAndOverviewTests<SqliteHost>(host);

public sealed class PostgresPreferencesAndOverviewTests(PostgresHost host) : PreferencesAndOverviewTests<PostgresHost>(host);

/// <summary>
/// GET|PUT /api/v1/me/preferences (the caller's language and time zone, validated, audited) and GET /api/v1/overview
/// (the dashboard's figures, each only for the privilege that may see it).
/// </summary>
public abstract class PreferencesAndOverviewTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_caller_sets_language_and_time_zone_and_the_change_is_audited()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var me = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);

        var initial = await Expect.ResponseAsync(await me.Client.GetAsync("/api/v1/me/preferences"), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, initial.GetProperty("language").ValueKind);
        Assert.Equal(JsonValueKind.Null, initial.GetProperty("timeZone").ValueKind);

        var set = await Expect.ResponseAsync(await me.Client.PutAsJsonAsync("/api/v1/me/preferences", new { language = "DE", timeZone = "Europe/Berlin" }), HttpStatusCode.OK);
        Assert.Equal("de", set.GetProperty("language").GetString());
        Assert.Equal("Europe/Berlin", set.GetProperty("timeZone").GetString());
        var read = await Expect.ResponseAsync(await me.Client.GetAsync("/api/v1/me/preferences"), HttpStatusCode.OK);
        Assert.Equal(set.ToString(), read.ToString());

        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.Users.SingleAsync(u => u.Id == me.Id);
            Assert.Equal(("de", "Europe/Berlin"), (stored.Language, stored.TimeZone));
            var audited = await db.AuditEvents.Where(e => e.Action == "user.preferences_changed" && e.TargetId == me.Id.ToString()).ToListAsync();
            var single = Assert.Single(audited);
            Assert.Equal(me.Username, single.ActorName);
            Assert.Contains("\"language\":{\"from\":null,\"to\":\"de\"}", single.Details, StringComparison.Ordinal);
        }

        // The same values again change nothing and write no event; UTC and null both mean "no zone".
        await Expect.ResponseAsync(await me.Client.PutAsJsonAsync("/api/v1/me/preferences", new { language = "de", timeZone = "Europe/Berlin" }), HttpStatusCode.OK);
        var cleared = await Expect.ResponseAsync(await me.Client.PutAsJsonAsync("/api/v1/me/preferences", new { language = (string?)null, timeZone = "UTC" }), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("language").ValueKind);
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("timeZone").ValueKind);
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(2, await db.AuditEvents.CountAsync(e => e.Action == "user.preferences_changed" && e.TargetId == me.Id.ToString()));
        }
    }

    [Fact]
    public async Task Refused_preferences_name_each_member_and_change_nothing()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var me = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);

        var problem = await Expect.ProblemAsync(await me.Client.PutAsJsonAsync("/api/v1/me/preferences", new { language = "fr", timeZone = "Mars/Olympus" }), HttpStatusCode.BadRequest, "validation_failed");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("language", out _) && errors.TryGetProperty("timeZone", out _), problem.ToString());
        await Expect.ProblemAsync(await me.Client.PutAsJsonAsync("/api/v1/me/preferences", new { timeZone = "+02:00" }), HttpStatusCode.BadRequest, "validation_failed");

        using var anonymous = App.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/me/preferences")).StatusCode);
        await using var scope = App.Scope(out var db);
        var stored = await db.Users.SingleAsync(u => u.Id == me.Id);
        Assert.Null(stored.Language);
        Assert.Null(stored.TimeZone);
    }

    [Fact]
    public async Task The_overview_counts_users_by_status_and_shows_each_part_only_to_its_privilege()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var viewer = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);
        using var auditor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewAuditLog]);
        using var checker = await DelegationArrange.ActorAsync(App, admin, [Privileges.ApproveChanges]);

        var before = await Expect.ResponseAsync(await viewer.Client.GetAsync("/api/v1/overview"), HttpStatusCode.OK);
        var username = Seed.Unique("invitee");
        await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", type = "backoffice" }), HttpStatusCode.Created);
        var after = await Expect.ResponseAsync(await viewer.Client.GetAsync("/api/v1/overview"), HttpStatusCode.OK);
        Assert.Equal(Count(before, "invited") + 1, Count(after, "invited"));
        Assert.Equal(Count(before, "active"), Count(after, "active"));
        Assert.True(after.GetProperty("users").GetProperty("invited").GetProperty("exact").GetBoolean());
        Assert.Equal(14, after.GetProperty("expiringWithinDays").GetInt32());
        Assert.Equal(JsonValueKind.Object, after.GetProperty("expiringAccess").ValueKind);
        Assert.Equal(JsonValueKind.Null, after.GetProperty("pendingApprovals").ValueKind);
        Assert.Equal(JsonValueKind.Null, after.GetProperty("latestEvents").ValueKind);

        // The active count is the users list's: the same filter, the same number.
        var active = await Expect.ResponseAsync(await viewer.Client.GetAsync("/api/v1/users?status=active&limit=200"), HttpStatusCode.OK);
        if (active.GetProperty("nextCursor").ValueKind == JsonValueKind.Null)
        {
            Assert.Equal(active.GetProperty("items").GetArrayLength(), Count(after, "active"));
        }

        var audit = await Expect.ResponseAsync(await auditor.Client.GetAsync("/api/v1/overview"), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, audit.GetProperty("users").ValueKind);
        Assert.Equal(JsonValueKind.Null, audit.GetProperty("expiringAccess").ValueKind);
        Assert.InRange(audit.GetProperty("latestEvents").GetArrayLength(), 1, 10);
        Assert.Equal("user.created", audit.GetProperty("latestEvents")[0].GetProperty("action").GetString());

        var approvals = await Expect.ResponseAsync(await checker.Client.GetAsync("/api/v1/overview"), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, approvals.GetProperty("users").ValueKind);
        Assert.True(approvals.GetProperty("pendingApprovals").GetProperty("count").GetInt32() >= 0);
    }

    private static int Count(JsonElement overview, string status) => overview.GetProperty("users").GetProperty(status).GetProperty("count").GetInt32();
}
