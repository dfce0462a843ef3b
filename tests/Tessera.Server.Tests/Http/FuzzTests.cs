using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tessera.Server.Tests.Http;

public sealed class SqliteFuzzTests(SqliteHost host, ITestOutputHelper output) : FuzzTests<SqliteHost>(host, output);

public sealed class PostgresFuzzTests(PostgresHost host, ITestOutputHelper output) : FuzzTests<PostgresHost>(host, output);

/// <summary>
/// Reads the OpenAPI document from the running host and sends every operation in it thousands of hostile requests,
/// with a valid administrator's token (<see cref="HostileRequests"/> says how each is made invalid). No answer may
/// be a 5xx; since every request is invalid, every answer must be a 4xx problem with a `code`; and no stored row may
/// change. TESSERA_FUZZ_SEED repeats a run, TESSERA_FUZZ_REQUESTS makes it longer, TESSERA_FUZZ_LOG keeps every request and answer.
/// </summary>
public abstract class FuzzTests<THost>(THost host, ITestOutputHelper output) : IClassFixture<THost> where THost : HostFixture
{
    public const int DefaultSeed = 15_2026;
    public const int DefaultRequests = 3_200;

    /// <summary>
    /// The one table a refused request may add to: the audit log, where refusals of the delegation rules are written
    /// by design (an `access.denied` event). Every other table must come out of the run exactly as it went in.
    /// </summary>
    private static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase) { "audit_events" };

    private TesseraApp App => host.App;

    [Fact]
    public async Task Hostile_requests_to_every_operation_get_4xx_problems_and_change_no_row()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("TESSERA_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : DefaultSeed;
        var count = int.TryParse(Environment.GetEnvironmentVariable("TESSERA_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out var n) ? n : DefaultRequests;
        using var api = await Seed.AdminApiAsync(App);
        var known = await ArrangeAsync(api);
        var document = await api.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var operations = ApiOperation.All(document);
        Assert.True(operations.Count >= 40, $"the OpenAPI document lists only {operations.Count} operations");
        var generator = new HostileRequests(known, document);

        // A well-formed change of one's own password with a wrong current password counts toward the caller's lockout,
        // by design (and may pass the rate limit up to its permit): the counter is masked in the snapshots, and the
        // threshold raised so that the caller is never locked out in the middle of the run.
        var policy = await api.GetFromJsonAsync<Dictionary<string, JsonElement>>("/api/v1/password-policy");
        policy!["lockoutThreshold"] = JsonSerializer.SerializeToElement(100);
        Assert.True((await api.PutAsJsonAsync("/api/v1/password-policy", policy)).IsSuccessStatusCode);

        await App.AuditWrittenAsync();
        var before = await SnapshotAsync();
        var failures = new List<string>();
        var statuses = new SortedDictionary<string, SortedDictionary<int, int>>(StringComparer.Ordinal);
        // TESSERA_FUZZ_LOG=path writes every request and its answer there, to study a run.
        using var log = Environment.GetEnvironmentVariable("TESSERA_FUZZ_LOG") is { Length: > 0 } logPath ? new StreamWriter(logPath) : null;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            // Round robin over the operations, each request from a generator of its own: one failing request is repeated by its index.
            var operation = operations[i % operations.Count];
            var request = generator.Create(i, operation, new Random(unchecked((seed * 397) ^ i)));
            using var message = request.ToMessage();
            HttpResponseMessage response;
            try
            {
                response = await api.SendAsync(message);
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or IOException)
            {
                failures.Add($"{request}\n  → the request failed to send or answer: {e.GetType().Name}: {e.Message}");
                continue;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                var tally = statuses.TryGetValue(operation.ToString(), out var t) ? t : statuses[operation.ToString()] = [];
                tally[status] = tally.GetValueOrDefault(status) + 1;
                var problem = await ProblemWithAsync(response);
                if (problem is not null)
                {
                    failures.Add($"{request}\n  → {problem}");
                }

                log?.WriteLine($"{request}\n  → {status} {problem}\n");
            }
        }

        watch.Stop();
        await App.AuditWrittenAsync();
        var after = await SnapshotAsync();
        output.WriteLine($"{App.Database.Provider}: {count} hostile requests over {operations.Count} operations in {watch.Elapsed.TotalSeconds:F1} s (seed {seed})");
        foreach (var (operation, tally) in statuses)
        {
            output.WriteLine($"  {operation}: {string.Join(", ", tally.Select(x => $"{x.Key}×{x.Value}"))}");
        }

        var changed = Compare(before, after);
        Assert.True(failures.Count == 0 && changed.Count == 0,
            $"seed {seed} (TESSERA_FUZZ_SEED={seed} repeats the run): {failures.Count} of {count} answers were wrong, {changed.Count} tables changed.\n"
            + string.Join("\n", changed) + "\n" + string.Join("\n\n", failures.Take(12)) + (failures.Count > 12 ? $"\n\n... and {failures.Count - 12} more" : ""));
        Assert.All(operations, o => Assert.True(statuses.ContainsKey(o.ToString()), $"{o} was never tried"));
    }

    /// <summary>What is wrong with an answer to an invalid request, or null: it must be a 4xx problem+json with a code.</summary>
    private static async Task<string?> ProblemWithAsync(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        var body = await response.Content.ReadAsStringAsync();
        var seen = $"{status} {response.Content.Headers.ContentType}: {(body.Length > 2000 ? body[..2000] + "..." : body)}";
        if (status is < 400 or >= 500)
        {
            return status >= 500 ? $"a server error: {seen}" : $"an invalid request was not refused: {seen}";
        }

        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return $"not application/problem+json: {seen}";
        }

        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String && code.GetString()!.Length > 0
                ? null
                : $"a problem without a code: {seen}";
        }
        catch (JsonException)
        {
            return $"a problem that is not JSON: {seen}";
        }
    }

    /// <summary>Rows for the requests to name: users of both kinds, custom roles with rules, groups with members, customers, an agent's scope.</summary>
    private async Task<KnownRows> ArrangeAsync(HttpClient api)
    {
        const string password = "Fuzz-Arranged-Password-1";
        var users = new List<Tessera.Server.Storage.User>
        {
            await Seed.UserAsync(App, UserType.BackOffice, password),
            await Seed.UserAsync(App, UserType.BackOffice, password, "Administrator"),
            await Seed.UserAsync(App, UserType.BackOffice, null),
            await Seed.UserAsync(App, UserType.Api, password, "System"),
        };
        await Seed.UpdateUserAsync(App, users[0].Id, u => u.LockedUntil = DateTime.UtcNow.AddHours(1));

        await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/resources", new
        {
            resources = new[] { new { name = "orders", actions = new[] { "read", "write" } }, new { name = "invoices", actions = new[] { "read" } } },
        }), System.Net.HttpStatusCode.OK);
        foreach (var (name, privileges) in new[] { ("fuzz-readers", new[] { "VIEW_USERS" }), ("fuzz-writers", new[] { "VIEW_USERS", "VIEW_ROLES" }) })
        {
            await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/roles", new
            {
                name, description = "Arranged for the fuzz test", privileges,
                rules = new[] { new { resource = "orders", action = "read", effect = "allow" }, new { resource = "invoices", action = "read", effect = "deny" } },
            }), System.Net.HttpStatusCode.Created);
        }

        foreach (var name in new[] { "fuzz-group", "fuzz-empty" })
        {
            await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/groups", new
            {
                name, description = "Arranged for the fuzz test", roles = name == "fuzz-group" ? new[] { "fuzz-readers" } : [],
                userIds = name == "fuzz-group" ? new[] { users[0].Id, users[1].Id } : [],
            }), System.Net.HttpStatusCode.Created);
        }

        for (var i = 0; i < 3; i++)
        {
            await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/customers", new { reference = $"fuzz-{i}", email = $"fuzz-{i}@shop.test", firstName = "Fuzz", lastName = "Customer" }),
                System.Net.HttpStatusCode.Created);
        }

        await using var scope = App.Scope(out var db);
        var customers = await db.Customers.Select(c => c.Id).ToListAsync();
        await Expect.ResponseAsync(await api.PutAsJsonAsync($"/api/v1/users/{users[1].Id}/customers", new { scope = "assigned", customerIds = customers.Take(2) }), System.Net.HttpStatusCode.OK);
        return new KnownRows(
            await db.Users.Select(u => u.Id).ToListAsync(),
            await db.Roles.Select(r => r.Id).ToListAsync(),
            await db.Groups.Select(g => g.Id).ToListAsync(),
            customers,
            await db.Roles.Select(r => r.Name).ToListAsync(),
            await db.Privileges.Select(p => p.Name).ToListAsync());
    }

    /// <summary>Every row of every table of the model (but <see cref="Excluded"/>), as sorted text per table.</summary>
    private async Task<Dictionary<string, List<string>>> SnapshotAsync()
    {
        await using var scope = App.Scope(out var db);
        var tables = db.Model.GetEntityTypes().Select(e => e.GetTableName()).OfType<string>().Distinct().Where(t => !Excluded.Contains(t)).ToList();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        var snapshot = new Dictionary<string, List<string>>();
        foreach (var table in tables)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                rows.Add(Row(reader, table == "users" ? "FailedSignInCount" : null));
            }

            rows.Sort(StringComparer.Ordinal);
            snapshot[table] = rows;
        }

        return snapshot;
    }

    private static string Row(DbDataReader reader, string? masked = null)
    {
        var row = new StringBuilder();
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (string.Equals(reader.GetName(i), masked, StringComparison.Ordinal))
            {
                continue;
            }

            var value = reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture) ?? "";
            row.Append(reader.GetName(i)).Append('=').Append(value.Length > 120 ? value[..120] + "…" : value).Append(" | ");
        }

        return row.ToString();
    }

    private static List<string> Compare(Dictionary<string, List<string>> before, Dictionary<string, List<string>> after)
    {
        var changes = new List<string>();
        foreach (var (table, rows) in before)
        {
            var now = after[table];
            if (rows.SequenceEqual(now))
            {
                continue;
            }

            var gone = rows.Except(now).Take(3).Select(r => "    - " + r);
            var added = now.Except(rows).Take(3).Select(r => "    + " + r);
            changes.Add($"  {table}: {rows.Count} rows before, {now.Count} after\n{string.Join("\n", gone.Concat(added))}");
        }

        return changes;
    }
}
