using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tessera.Server.Tests.Governance;

/// <summary>The memory test measures the whole process's heap: nothing else may run beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasured
{
    public const string Name = "memory measured";
}

[Collection(MemoryMeasured.Name)]
public sealed class SqliteAccessReportStreamingTests(SqliteHost host, ITestOutputHelper output) : AccessReportStreamingTests<SqliteHost>(host, output);

[Collection(MemoryMeasured.Name)]
public sealed class PostgresAccessReportStreamingTests(PostgresHost host, ITestOutputHelper output) : AccessReportStreamingTests<PostgresHost>(host, output);

/// <summary>
/// The access report of 100,000 users streams: the response has no Content-Length, its first lines arrive long
/// before its end, and the live heap of the process (host and reader together) peaks no higher for 100,000 users
/// than for 10,000, since the host holds one page of users at a time.
/// </summary>
public abstract class AccessReportStreamingTests<THost>(THost host, ITestOutputHelper output) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_report_of_100000_users_streams_with_a_flat_memory_peak()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (directRole, directName) = await DelegationArrange.RoleAsync(admin, "bulk", Privileges.ViewUsers, Privileges.ViewRoles);
        var (groupRole, groupRoleName) = await DelegationArrange.RoleAsync(admin, "bulkgrp", Privileges.ViewAuditLog);
        var (group, groupName) = await DelegationArrange.GroupAsync(admin, [groupRoleName]);
        var run = Random.Shared.Next(1, int.MaxValue);

        // Each report is read twice and the lower peak kept: the live heap is the whole process's, and whatever else
        // it holds for a moment (seen: +8.7 MB during a 10,000-user read) can only add to a reading, never take away.
        await BulkUsers.InsertAsync(App, run, from: 1, count: 10_000, directRole, group);
        var small = Lower(await ReadAsync(run, 10_000), await ReadAsync(run, 10_000));
        await BulkUsers.InsertAsync(App, run, from: 10_001, count: 90_000, directRole, group);
        var large = Lower(await ReadAsync(run, 100_000), await ReadAsync(run, 100_000));
        output.WriteLine($"10,000 users: {small}");
        output.WriteLine($"100,000 users: {large}");

        // A few rows' sources: user 6 holds the role directly and through the group, user 7 neither.
        Assert.Equal(
        [
            $"privilege|VIEW_ROLES|{directName}||active",
            $"privilege|VIEW_USERS|{directName}||active",
            $"privilege|VIEW_AUDIT_LOG|{groupRoleName}|{groupName}|active",
        ], large.Samples[6]);
        Assert.Equal(["none||||"], large.Samples[7]);
        Assert.Equal([$"privilege|VIEW_AUDIT_LOG|{groupRoleName}|{groupName}|active"], large.Samples[99_999]);

        // Not buffered: no length announced, and the first user's line came while most of the report was still to come.
        Assert.Null(large.ContentLength);
        Assert.True(large.FirstLine < large.Total / 4, $"first line after {large.FirstLine}, the whole after {large.Total}");

        // The bound: the host holds one page of 1,000 users with their assignments, the role and group maps, and a
        // page's output (a few hundred KB); the reader holds one line. Ten times the users must not raise the peak of
        // the live heap by more than 8 MB over the smaller report's, nor above 32 MB over the start (a buffered
        // report of 100,000 users is ~25 MB of text, as UTF-16 twice that).
        Assert.True(large.PeakGrowth < small.PeakGrowth + (8 << 20), $"peak grew {large.PeakGrowth:N0} B for 100,000 users against {small.PeakGrowth:N0} B for 10,000");
        Assert.True(large.PeakGrowth < 32 << 20, $"peak grew {large.PeakGrowth:N0} B");
    }

    private sealed record Reading(int Rows, TimeSpan FirstLine, TimeSpan Total, long PeakGrowth, long? ContentLength, Dictionary<int, List<string>> Samples)
    {
        public override string ToString()
            => string.Create(CultureInfo.InvariantCulture, $"{Rows:N0} rows of bulk users, first line {FirstLine.TotalMilliseconds:F0} ms, all {Total.TotalMilliseconds:F0} ms, live-heap peak +{PeakGrowth / 1024.0 / 1024:F1} MB");
    }

    private static Reading Lower(Reading a, Reading b) => a.PeakGrowth <= b.PeakGrowth ? a : b;

    /// <summary>Reads the CSV line by line, sampling the live heap (after a full collection) every 5,000 lines;
    /// it keeps no more than a count of what it read, so that the peak is the host's.</summary>
    private async Task<Reading> ReadAsync(int run, int users)
    {
        using var reviewer = await DelegationArrange.ActorAsync(App, await Seed.AdminApiAsync(App), [Privileges.ReviewAccess]);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var peak = baseline;
        var watch = Stopwatch.StartNew();
        using var response = await reviewer.Client.GetAsync("/api/v1/access-report?format=csv", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("userId,username,", await reader.ReadLineAsync(), StringComparison.Ordinal);
        var line = await reader.ReadLineAsync();
        var first = watch.Elapsed;
        var prefix = BulkUsers.Prefix(run);
        var rows = 0;
        var lines = 0;
        var seen = 0;
        var last = "";
        var samples = new Dictionary<int, List<string>> { [6] = [], [7] = [], [99_999] = [] };
        for (; line is not null; line = await reader.ReadLineAsync())
        {
            if (++lines % 5_000 == 0)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
            }

            var fields = Csv.Fields(line);
            if (!fields[1].StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            rows++;
            // The report is ordered by username: a user's lines come together.
            if (fields[1] != last)
            {
                seen++;
                last = fields[1];
            }

            var number = int.Parse(fields[1].AsSpan(prefix.Length), CultureInfo.InvariantCulture);
            if (samples.TryGetValue(number, out var sample))
            {
                sample.Add(string.Join('|', fields[4], fields[5], fields[9], fields[10], fields[13]));
            }
        }

        var total = watch.Elapsed;
        peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
        Assert.Equal(users, seen);
        Assert.Equal(BulkUsers.ExpectedRows(users), rows);
        return new Reading(rows, first, total, peak - baseline, response.Content.Headers.ContentLength, samples);
    }
}

/// <summary>
/// Users inserted in bulk by one SQL statement per table, inside one transaction: user i holds the direct role when i
/// is even and is a member of the group when i is a multiple of 3.
/// </summary>
public static class BulkUsers
{
    public static string Prefix(int run) => $"bulk{run:x8}.";

    /// <summary>A user's lines: 3 for the direct role (two privileges and one of the group's), 1 for the group's role, 1 "none".</summary>
    public static int ExpectedRows(int users)
        => Enumerable.Range(1, users).Sum(i => (i % 2 == 0 ? 2 : 0) + (i % 3 == 0 ? 1 : 0) is var n && n > 0 ? n : 1);

    public static async Task InsertAsync(TesseraApp app, int run, int from, int count, Guid role, Guid group)
    {
        await using var scope = app.Scope(out var db);
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(5));
        await using var tx = await db.Database.BeginTransactionAsync();
        var postgres = db.Provider == DatabaseProvider.Postgres;
        var prefix = Prefix(run);
        string Series(string select, string? where = null) => postgres
            ? $"SELECT {select} FROM generate_series({from}, {from + count - 1}) AS n(i){(where is null ? "" : " WHERE " + where)}"
            : $"WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {from + count - 1}) SELECT {select} FROM n{(where is null ? "" : " WHERE " + where)}";
        var id = postgres
            ? $"(lpad(to_hex({run}), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid"
            : $"printf('%08X-0000-7000-8000-%012X', {run}, i)";
        var name = postgres ? $"'{prefix}' || lpad(i::text, 7, '0')" : $"'{prefix}' || printf('%07d', i)";
        var now = postgres ? "now()" : "strftime('%Y-%m-%d %H:%M:%S', 'now')";
        var roleId = postgres ? $"'{role}'::uuid" : $"'{role.ToString().ToUpperInvariant()}'";
        var groupId = postgres ? $"'{group}'::uuid" : $"'{group.ToString().ToUpperInvariant()}'";

        // Every value in these statements is a number or an id made here: nothing to inject.
#pragma warning disable EF1003
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO users (\"Id\", \"Username\", \"NormalizedUsername\", \"Email\", \"NormalizedEmail\", \"FirstName\", \"LastName\", \"SearchText\", "
            + "\"NormalizedFirstName\", \"NormalizedLastName\", \"Type\", \"Status\", \"CredentialMode\", \"SecurityStamp\", \"CreatedAt\", \"UpdatedAt\", "
            + "\"FailedSignInCount\", \"UsernameSkeleton\", \"EmailSkeleton\") "
            + Series($"{id}, {name}, upper({name}), {name} || '@bulk.test', upper({name} || '@bulk.test'), 'Bulk', 'User', {name}, 'BULK', 'USER', "
                + $"'backoffice', 'Active', 'Password', 'STAMP', {now}, {now}, 0, {name}, {name} || '@bulk.test'"));
        await db.Database.ExecuteSqlRawAsync("INSERT INTO user_roles (\"UserId\", \"RoleId\") " + Series($"{id}, {roleId}", "i % 2 = 0"));
        await db.Database.ExecuteSqlRawAsync("INSERT INTO group_members (\"GroupId\", \"UserId\") " + Series($"{groupId}, {id}", "i % 3 = 0"));
#pragma warning restore EF1003
        await tx.CommitAsync();
    }
}
