using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Tessera.Server.Tests.Storage;

/// <summary>One throwaway PostgreSQL cluster for the fault tests, which stop and start it.</summary>
public sealed class FaultCluster : IAsyncLifetime
{
    public PostgresCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await PostgresCluster.CreateAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Database faults, as an operator meets them: the built service in processes of its own, against a PostgreSQL
/// cluster of the tests' own that they stop and start. Every wait polls against a hard deadline.
/// </summary>
public sealed partial class FaultTests(FaultCluster fixture, ITestOutputHelper output) : IClassFixture<FaultCluster>, IAsyncLifetime
{
    private const string ApiClientId = "fault-api";
    private const string ApiClientSecret = "Fault-Api-Secret-1234";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tessera-fault-");
    private readonly List<ServerProcess> _servers = [];

    private PostgresCluster Cluster => fixture.Cluster;

    public Task InitializeAsync() => Cluster.EnsureStartedAsync();

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_servers.Select(s => s.DisposeAsync().AsTask()));
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task Three_instances_started_together_on_an_empty_database_all_become_ready_ten_times_over()
    {
        const int Rounds = 10;
        const int Instances = 3;
        var ready = 0;
        for (var round = 1; round <= Rounds; round++)
        {
            var database = $"fault_race_{round}";
            await Cluster.CreateDatabaseAsync(database);
            var ports = TesseraApp.FreePorts(Instances);
            var servers = ports.Select(port => Start(port, database)).ToList();
            var started = Stopwatch.StartNew();
            try
            {
                await Task.WhenAll(servers.Select((server, i) => WaitUntilReadyAsync(server, ports[i], TimeSpan.FromSeconds(60))));
                ready += servers.Count;
                output.WriteLine($"round {round}: {servers.Count} instances ready in {started.Elapsed.TotalSeconds:0.0} s");
            }
            finally
            {
                await Task.WhenAll(servers.Select(s => s.DisposeAsync().AsTask()));
                _servers.Clear();
            }

            // One schema and one bootstrap, whoever came first; nobody logged an error on the way.
            var migrations = await Cluster.ScalarAsync(database, "SELECT COUNT(*) FROM \"__EFMigrationsHistory\"");
            Assert.Equal(MigrationCount, migrations);
            Assert.Equal(1L, await Cluster.ScalarAsync(database, "SELECT COUNT(*) FROM users WHERE \"NormalizedUsername\" = 'ADMIN'"));
            foreach (var server in servers)
            {
                Assert.True(Entries(server.Output).All(e => e.Level == "warn"), $"round {round}: an instance logged an error:\n{server.Output}");
            }
        }

        Assert.Equal(Rounds * Instances, ready);
    }

    [Fact]
    public async Task A_start_while_the_database_is_down_waits_for_it_answering_liveness_and_is_ready_within_5_s_of_it_coming_up()
    {
        // An installed service restarted while its database is down, as after a power cut: it ran on this database before.
        const string database = "fault_down";
        await Cluster.CreateDatabaseAsync(database);
        var port = TesseraApp.FreePort();
        var installed = Start(port, database);
        await WaitUntilReadyAsync(installed, port, TimeSpan.FromSeconds(60));
        installed.Terminate();
        Assert.Equal(0, await installed.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        await Cluster.StopAsync();
        var server = Start(port, database);
        using var http = Client(port);

        // The host listens although the database does not answer: liveness 200, readiness 503, one warning.
        await UntilAsync(async () => (await TryGetAsync(http, "/healthz/live"))?.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), server, "/healthz/live answers 200");
        await UntilAsync(() => Task.FromResult(server.Output.Contains("The database does not answer", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), server, "the outage is logged");
        using (var health = await http.GetAsync("/healthz"))
        {
            await AssertUnavailableProblemAsync(health);
        }

        using (var token = await TokenAsync(http))
        {
            await AssertUnavailableOAuthAsync(token);
        }

        using (var api = await http.GetAsync("/api/v1/users"))
        {
            await AssertUnavailableProblemAsync(api);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/live")).StatusCode);
        Assert.Null(server.ExitCode);

        await Cluster.StartAsync();
        var up = Stopwatch.StartNew();
        await UntilAsync(async () => (await TryGetAsync(http, "/healthz"))?.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(5), server, "/healthz is 200 within 5 s of the cluster being up");
        var readyAfter = up.Elapsed;
        output.WriteLine($"ready {readyAfter.TotalSeconds:0.00} s after the cluster came up");
        Assert.True(readyAfter < TimeSpan.FromSeconds(5), $"ready {readyAfter.TotalSeconds:0.0} s after the cluster came up");

        // It serves: the token signing keys were read from the database.
        using var keys = await http.GetAsync("/.well-known/jwks");
        Assert.True(keys.StatusCode == HttpStatusCode.OK, $"jwks: {(int)keys.StatusCode} {await keys.Content.ReadAsStringAsync()}");
        Assert.Single(Entries(server.Output), e => e.Message.Contains("The database does not answer", StringComparison.Ordinal));
        Assert.Single(Entries(server.Output), e => e.Message.Contains("The database answers again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_start_gives_up_when_the_database_stays_down_past_StartRetrySeconds_and_says_so()
    {
        await Cluster.StopAsync();
        var server = Start(TesseraApp.FreePort(), "fault_never", startRetrySeconds: 2);
        var exitCode = await server.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 1, $"exit code {exitCode}:\n{server.Output}");
        Assert.Contains("The database did not answer within 2 s of the start (Tessera:Database:StartRetrySeconds)", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_outage_under_load_is_answered_503_with_Retry_After_logged_once_at_each_end_and_recovered_from_without_a_restart()
    {
        const string database = "fault_load";
        await Cluster.CreateDatabaseAsync(database);
        var port = TesseraApp.FreePort();
        var server = Start(port, database, apiClient: true);
        using var http = Client(port);
        await WaitUntilReadyAsync(server, port, TimeSpan.FromSeconds(60));

        string accessToken;
        using (var response = await TokenAsync(http))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"token: {(int)response.StatusCode} {body}");
            accessToken = JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
        }

        // The load: four clients in bounded loops over the API, the token and introspection endpoints and readiness.
        var observations = new ConcurrentQueue<Observation>();
        var phase = (int)Phase.Before;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var load = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            using var client = Client(port);
            for (var i = 0; i < 20_000 && !stop.IsCancellationRequested; i++)
            {
                var kind = (Kind)((worker + i) % 4);
                var during = (Phase)Volatile.Read(ref phase);
                observations.Enqueue(await SendAsync(client, kind, accessToken, during));
            }
        })).ToList();

        await UntilAsync(() => Task.FromResult(Kinds.All(k => observations.Any(o => o.Kind == k && o.Status == 200))), TimeSpan.FromSeconds(30), server, "every kind of request succeeds before the outage");
        var logMark = server.Output.Length;

        Volatile.Write(ref phase, (int)Phase.Outage);
        await Cluster.StopAsync();
        Volatile.Write(ref phase, (int)Phase.Down);
        await UntilAsync(() => Task.FromResult(Kinds.All(k => observations.Any(o => o.Phase == Phase.Down && o.Kind == k && o.Status == 503))),
            TimeSpan.FromSeconds(15), server, "every kind of request is answered 503 while the cluster is down");

        Volatile.Write(ref phase, (int)Phase.Recovering);
        await Cluster.StartAsync();
        Volatile.Write(ref phase, (int)Phase.After);
        await UntilAsync(() => Task.FromResult(Kinds.All(k => observations.Any(o => o.Phase == Phase.After && o.Kind == k && o.Status == 200))),
            TimeSpan.FromSeconds(15), server, "every kind of request succeeds again after the cluster is back");
        await stop.CancelAsync();
        await Task.WhenAll(load);
        await UntilAsync(() => Task.FromResult(server.Output.IndexOf("The database answers again", logMark, StringComparison.Ordinal) >= 0), TimeSpan.FromSeconds(5), server, "the end of the outage is logged");

        output.WriteLine($"{observations.Count} requests, {observations.Count(o => o.Status == 503)} answered 503; {Entries(server.Output[logMark..]).Count} warning entries during the outage");

        // The same process served throughout.
        Assert.Null(server.ExitCode);

        // Every answer was a success or a 503 with Retry-After, in the form its client reads; never a 500.
        var unexpected = observations.Where(o => o.Status is not (200 or 503)).Take(5).ToList();
        Assert.True(unexpected.Count == 0, "unexpected answers:\n" + string.Join("\n", unexpected));
        foreach (var o in observations.Where(o => o.Status == 503))
        {
            Assert.True(o.RetryAfter == "5", $"no Retry-After: {o}");
            if (o.Kind is Kind.Token or Kind.Introspect)
            {
                Assert.True(o.MediaType == "application/json" && o.Body.Contains("\"error\":\"temporarily_unavailable\"", StringComparison.Ordinal), $"not an OAuth error: {o}");
            }
            else
            {
                Assert.True(o.MediaType == "application/problem+json" && o.Body.Contains("\"code\":\"database_unavailable\"", StringComparison.Ordinal), $"not a database_unavailable problem: {o}");
            }
        }

        // The outage left exactly two entries at warning level or above: its beginning and its end; no stack trace.
        var segment = server.Output[logMark..];
        var entries = Entries(segment);
        Assert.True(entries.Count == 2, $"{entries.Count} warning or error entries during the outage ({observations.Count(o => o.Status == 503)} answers 503):\n{segment}");
        Assert.Equal(("warn", "Tessera.Server.Storage.DatabaseOutage"), (entries[0].Level, entries[0].Category));
        Assert.Contains("The database does not answer", entries[0].Message, StringComparison.Ordinal);
        Assert.Equal(("warn", "Tessera.Server.Storage.DatabaseOutage"), (entries[1].Level, entries[1].Category));
        Assert.Contains("The database answers again", entries[1].Message, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", segment, StringComparison.Ordinal);

        // And it serves as before.
        using var again = await TokenAsync(http);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    private enum Kind { Api, Token, Introspect, Health }

    private enum Phase { Before, Outage, Down, Recovering, After }

    private static readonly Kind[] Kinds = Enum.GetValues<Kind>();

    private sealed record Observation(Kind Kind, Phase Phase, int Status, string? RetryAfter, string? MediaType, string Body)
    {
        public override string ToString() => $"{Kind} ({Phase}): {Status} Retry-After={RetryAfter} {MediaType} {Body}";
    }

    private sealed record Entry(string Level, string Category, string Message);

    private static async Task<Observation> SendAsync(HttpClient client, Kind kind, string accessToken, Phase phase)
    {
        using var request = kind switch
        {
            Kind.Api => new HttpRequestMessage(HttpMethod.Get, "/api/v1/users") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", accessToken) } },
            Kind.Token => TokenRequest(),
            Kind.Introspect => new HttpRequestMessage(HttpMethod.Post, "/connect/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = ApiClientId, ["client_secret"] = ApiClientSecret, ["token"] = accessToken }),
            },
            _ => new HttpRequestMessage(HttpMethod.Get, "/healthz"),
        };
        try
        {
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            return new Observation(kind, phase, (int)response.StatusCode, response.Headers.RetryAfter?.ToString(), response.Content.Headers.ContentType?.MediaType, body.Length > 300 ? body[..300] : body);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return new Observation(kind, phase, 0, null, null, "no answer: " + e.Message);
        }
    }

    private static HttpRequestMessage TokenRequest() => new(HttpMethod.Post, "/connect/token")
    {
        Content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = ApiClientId, ["client_secret"] = ApiClientSecret,
        }),
    };

    private static Task<HttpResponseMessage> TokenAsync(HttpClient http) => http.SendAsync(TokenRequest());

    private static async Task AssertUnavailableProblemAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("database_unavailable", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    private static async Task AssertUnavailableOAuthAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("temporarily_unavailable", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    private ServerProcess Start(int port, string database, bool apiClient = false, int startRetrySeconds = 120)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Tessera__PublicUrl"] = $"http://127.0.0.1:{port}",
            ["Tessera__Database__Provider"] = "postgres",
            ["ConnectionStrings__Tessera"] = Cluster.ConnectionString(database),
            ["Tessera__Database__StartRetrySeconds"] = startRetrySeconds.ToString(CultureInfo.InvariantCulture),

            // As the shipped appsettings.json: the framework and EF Core log warnings and errors only.
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Warning",
        };
        if (apiClient)
        {
            environment["Tessera__Bootstrap__ApiClientId"] = ApiClientId;
            environment["Tessera__Bootstrap__ApiClientSecret"] = ApiClientSecret;
        }

        var server = ServerProcess.Start(_folder.FullName, environment);
        _servers.Add(server);
        return server;
    }

    private static HttpClient Client(int port) => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        Timeout = TimeSpan.FromSeconds(10),
    };

    private static async Task WaitUntilReadyAsync(ServerProcess server, int port, TimeSpan timeout)
    {
        using var http = Client(port);
        await UntilAsync(async () => (await TryGetAsync(http, "/healthz"))?.StatusCode == HttpStatusCode.OK, timeout, server, $"/healthz on port {port} answers 200");
    }

    private static async Task<HttpResponseMessage?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            return await http.GetAsync(path);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails when the server exits or the deadline passes, showing its output.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, ServerProcess server, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (server.ExitCode is { } code)
            {
                throw new Xunit.Sdk.XunitException($"Waiting until {what}: the server exited with {code}. Output:\n{server.Output}");
            }

            if (clock.Elapsed > timeout)
            {
                throw new Xunit.Sdk.XunitException($"Waiting until {what}: not within {timeout.TotalSeconds:0} s. Output:\n{server.Output}");
            }

            await Task.Delay(Poll);
        }
    }

    /// <summary>The log entries at warning level or above in console output of the simple formatter ("[time ]warn: Category[id]" then indented lines).</summary>
    private static List<Entry> Entries(string output)
    {
        var entries = new List<Entry>();
        var lines = output.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var match = EntryHeader().Match(lines[i]);
            if (!match.Success)
            {
                continue;
            }

            var message = new StringBuilder();
            for (var j = i + 1; j < lines.Length && lines[j].StartsWith("      ", StringComparison.Ordinal); j++)
            {
                message.AppendLine(lines[j].Trim());
            }

            entries.Add(new Entry(match.Groups[1].Value, match.Groups[2].Value, message.ToString()));
        }

        return entries;
    }

    [GeneratedRegex(@"^(?:[0-9:.]+ )?(warn|fail|crit): ([^\[]+)\[")]
    private static partial Regex EntryHeader();

    private static long MigrationCount
    {
        get
        {
            using var db = new PostgresTesseraDbContext(new DbContextOptionsBuilder<PostgresTesseraDbContext>().UseNpgsql("Host=127.0.0.1").Options);
            return db.Database.GetMigrations().LongCount();
        }
    }
}
