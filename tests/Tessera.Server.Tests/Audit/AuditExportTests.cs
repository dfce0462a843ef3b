using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Governance;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Audit;

public sealed class SqliteAuditExportTests(SqliteHost host) : AuditExportTests<SqliteHost>(host);

public sealed class PostgresAuditExportTests(PostgresHost host) : AuditExportTests<PostgresHost>(host);

/// <summary>
/// GET /api/v1/audit-events and its CSV export read one query: the same filters (exact, or a prefix with a trailing *),
/// <c>from</c> included and <c>to</c> not, newest first. The export streams in pages, defuses formula cells, needs
/// VIEW_AUDIT_LOG, and is itself audited.
/// </summary>
public abstract class AuditExportTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private static readonly DateTime T0 = new(2031, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task The_list_and_the_export_select_the_same_events_with_to_exclusive_and_prefixes_by_star()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var run = Seed.Unique("aud");
        await InsertAsync(
            Event(run + ".one", T0, "alice", "target-1"),
            Event(run + ".one", T0.AddHours(1), "alice", "target-2"),
            Event(run + ".two", T0.AddHours(2), "bob", "target-1"),
            Event(run + ".one", T0.AddHours(3), "alice", "target-1"));

        // from is included, to is not: the event at exactly T0 + 2 h is out, the one at T0 is in.
        var window = $"from={Iso(T0)}&to={Iso(T0.AddHours(2))}";
        var listed = await ActionsAsync(admin, $"/api/v1/audit-events?action={run}.*&{window}");
        Assert.Equal([(run + ".one", "target-2"), (run + ".one", "target-1")], listed);
        var exported = await ExportAsync(admin, $"action={run}.*&{window}");
        Assert.Equal(listed, exported.Select(f => (f[4], f[7])));

        // Exact by default; a prefix only with *.
        Assert.Empty(await ActionsAsync(admin, $"/api/v1/audit-events?action={run}"));
        Assert.Equal(3, (await ActionsAsync(admin, $"/api/v1/audit-events?action={run}.one")).Count);
        Assert.Equal(2, (await ActionsAsync(admin, $"/api/v1/audit-events?action={run}.*&target=target-1&actor=alice*")).Count);
        Assert.Equal([(run + ".two", "target-1")], (await ExportAsync(admin, $"action={run}.*&actor=bob")).Select(f => (f[4], f[7])));

        // A range that ends before it starts is refused, naming to.
        var refused = await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/audit-events/export?from={Iso(T0)}&to={Iso(T0.AddHours(-1))}"), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(refused.GetProperty("errors").TryGetProperty("to", out _), refused.ToString());
    }

    [Fact]
    public async Task Export_defuses_formula_cells_and_is_audited_with_its_filters()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var run = Seed.Unique("csv");
        var evil = Event(run + ".x", T0, "=HYPERLINK(\"http://x\")", "@SUM(1)");
        evil.TargetName = "+1,2";
        evil.ClientIp = "-3";
        await InsertAsync(evil);

        using var response = await admin.GetAsync($"/api/v1/audit-events/export?action={run}.x");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("audit-events.csv", response.Content.Headers.ContentDisposition?.ToString() ?? "", StringComparison.Ordinal);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,at,actor,actorId,action,outcome,targetType,targetId,targetName,clientIp,details", lines[0]);
        Assert.Equal(2, lines.Length);
        Assert.Contains("\"'=HYPERLINK(\"\"http://x\"\")\"", lines[1], StringComparison.Ordinal);
        var fields = Csv.Fields(lines[1]);
        Assert.Equal("'=HYPERLINK(\"http://x\")", fields[2]);
        Assert.Equal("'@SUM(1)", fields[7]);
        Assert.Equal("'+1,2", fields[8]);
        Assert.Equal("'-3", fields[9]);
        Assert.Equal(Iso(T0), fields[1]);

        await using var scope = App.Scope(out var db);
        var audited = await db.AuditEvents.Where(e => e.Action == "audit.exported").OrderByDescending(e => e.Id).FirstAsync();
        Assert.Equal(TesseraApp.ApiClientId, audited.ActorName);
        Assert.Contains($"\"action\":\"{run}.x\"", audited.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_needs_VIEW_AUDIT_LOG()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var viewer = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);
        using var auditor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewAuditLog]);

        await Expect.ProblemAsync(await viewer.Client.GetAsync("/api/v1/audit-events/export"), HttpStatusCode.Forbidden, "forbidden");
        using var allowed = await auditor.Client.GetAsync("/api/v1/audit-events/export?action=none.such", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var anonymous = App.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/audit-events/export")).StatusCode);
    }

    [Fact]
    public async Task Export_of_30000_events_streams_page_by_page()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var run = Seed.Unique("str");
        const int count = 30_000;
        var events = Enumerable.Range(0, count).Select(i => Event(run + ".bulk", T0.AddSeconds(i), "bulk", "t" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        await InsertAsync(events);

        var watch = Stopwatch.StartNew();
        using var response = await admin.GetAsync($"/api/v1/audit-events/export?action={run}.*", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("id,at,", await reader.ReadLineAsync(), StringComparison.Ordinal);
        var line = await reader.ReadLineAsync();
        var first = watch.Elapsed;
        var rows = 0;
        var previous = long.MaxValue;
        for (; line is not null; line = await reader.ReadLineAsync())
        {
            var id = long.Parse(line.AsSpan(0, line.IndexOf(',')), CultureInfo.InvariantCulture);
            Assert.True(id < previous, "newest first, each event once");
            previous = id;
            rows++;
        }

        var total = watch.Elapsed;
        Assert.Equal(count, rows);

        // Not buffered: no length announced, and the first event came while most of the export was still to come.
        Assert.Null(response.Content.Headers.ContentLength);
        Assert.True(first < total / 4, $"first event after {first}, the whole after {total}");
    }

    private static AuditEvent Event(string action, DateTime at, string actor, string target) => new()
    {
        Action = action, At = at, ActorName = actor, TargetType = "user", TargetId = target, TargetName = target, Details = "{\"n\":1}", ClientIp = "198.51.100.7",
    };

    private async Task InsertAsync(params AuditEvent[] events)
    {
        await using var scope = App.Scope(out var db);
        db.AuditEvents.AddRange(events);
        await db.SaveChangesAsync();
    }

    private static string Iso(DateTime at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static async Task<List<(string Action, string Target)>> ActionsAsync(HttpClient client, string path)
    {
        var page = await Expect.ResponseAsync(await client.GetAsync(path), HttpStatusCode.OK);
        return [.. page.GetProperty("items").EnumerateArray().Select(e => (e.GetProperty("action").GetString()!, e.GetProperty("targetId").GetString()!))];
    }

    private static async Task<List<string[]>> ExportAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/api/v1/audit-events/export?" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(Csv.Fields)];
    }
}
