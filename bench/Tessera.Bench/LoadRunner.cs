using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tessera.Server.Credentials;
using Tessera.Server.Storage;

namespace Tessera.Bench;

/// <summary>Bounds of one scenario: warm-up requests, then until the request count or the time runs out.</summary>
internal sealed record LoadBounds(int Concurrency, int Warmup, int MaxRequests, TimeSpan Duration);

/// <summary>The latency distribution and throughput of one scenario.</summary>
internal sealed record ScenarioResult(string Name, int Requests, int Failures, double Seconds, double P50, double P95, double P99, double Max)
{
    public double PerSecond => Requests / Seconds;

    /// <summary>CPU seconds the server process used during the measured requests (user + system), NaN when unknown.</summary>
    public double ServerCpuSeconds { get; init; } = double.NaN;

    /// <summary>Cores the server kept busy: its CPU seconds over the wall-clock seconds.</summary>
    public double ServerCores => ServerCpuSeconds / Seconds;

    /// <summary>Requests per second of server CPU: the throughput of one core given wholly to the server.</summary>
    public double PerServerCpuSecond => Requests / ServerCpuSeconds;

    public string Row() => string.Create(CultureInfo.InvariantCulture,
        $"| {Name} | {Requests} | {Failures} | {PerSecond:F0} | {P50:F2} | {P95:F2} | {P99:F2} | {Max:F2} | {ServerCores:F2} | {PerServerCpuSecond:F0} |");
}

/// <summary>
/// `load`: HTTP scenarios against a Tessera on loopback (started from its dll unless --url is given):
/// each users-list filter, a deep keyset page against the first page, POST /api/v1/authorize against
/// the bare /healthz/live in the same process, and client-credential tokens, cold and repeated.
/// </summary>
internal sealed class LoadRunner(HttpClient http, LoadBounds bounds, TextWriter log)
{
    public List<ScenarioResult> Results { get; } = [];

    public string? Bearer { get; set; }

    /// <summary>The server's CPU time so far (user + system), read around each scenario's measured requests.</summary>
    public Func<TimeSpan>? ServerCpu { get; init; }

    /// <summary>`--only`: a part of the scenario names to run; the others are skipped and left out of the report.</summary>
    public string? Only { get; init; }

    public bool Wanted(string name) => Only is null || name.Contains(Only, StringComparison.OrdinalIgnoreCase)
        || (name.StartsWith(BaselineName, StringComparison.Ordinal) && Wanted(AuthorizeName)); // a ratio needs its baseline

    private const string BaselineName = "GET /healthz/live (baseline";
    private const string AuthorizeName = "POST /api/v1/authorize";

    private static ScenarioResult Skipped(string name) => new(name, 0, 0, 1, double.NaN, double.NaN, double.NaN, double.NaN);

    public static async Task<int> RunAsync(Args args)
    {
        var provider = args.Get("provider", "sqlite").ToLowerInvariant();
        var connection = args.Get("connection") ?? throw new ArgumentException("--connection is required (the seeded database).");
        var bounds = new LoadBounds(args.Int("concurrency", 4), args.Int("warmup", 200), args.Int("requests", 20_000), TimeSpan.FromSeconds(args.Double("seconds", 10)));
        var report = await RunAllAsync(provider, connection, args.Get("server-dll") ?? ServerProcess.DefaultDll(), bounds, args.Int("deep-page", 10_000), Console.Out, args.Get("only"));
        Console.WriteLine(report.Markdown());
        var output = args.Get("out");
        if (output is not null)
        {
            await File.WriteAllTextAsync(output, report.Markdown());
        }

        return report.Failures == 0 ? 0 : 1;
    }

    /// <summary>Runs every scenario, or with <paramref name="only"/> just those whose name contains it (case-insensitive).</summary>
    public static async Task<LoadReport> RunAllAsync(string provider, string connection, string dll, LoadBounds bounds, int deepPage, TextWriter log, string? only = null)
    {
        var report = new LoadReport { Provider = provider, Bounds = bounds };
        await using var server = await ServerProcess.StartAsync(dll, provider, connection, log);
        report.ColdStartMs = server.ColdStart.TotalMilliseconds;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = bounds.Concurrency * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(30) };
        using var http = new HttpClient(handler) { BaseAddress = server.Url, Timeout = TimeSpan.FromSeconds(60) };
        await Task.Delay(1000);
        report.IdleRssMb = server.RssMegabytes();
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server: idle RSS {report.IdleRssMb:F0} MB"));

        var runner = new LoadRunner(http, bounds, log) { Only = only, ServerCpu = server.CpuTime };
        runner.Bearer = await runner.TokenAsync(ServerProcess.AdminClientId, ServerProcess.AdminClientSecret);

        // Search scenarios, with RSS sampled throughout.
        using var sampling = new CancellationTokenSource();
        var peak = 0.0;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.RssMegabytes());
                try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
            }
        });

        await runner.GetAsync("users username prefix", i => $"/api/v1/users?limit=50&username={Pick(i, "anna.m", "ben.s", "clara.w", "felix.k", "zoe.b")}");
        await runner.GetAsync("users firstName prefix", i => $"/api/v1/users?limit=50&firstName={Pick(i, "An", "Cla", "Hug", "Mar", "Oli")}");
        await runner.GetAsync("users lastName prefix", i => $"/api/v1/users?limit=50&lastName={Pick(i, "Schn", "Wag", "Hof", "Kow", "Nie")}");
        await runner.GetAsync("users email prefix", i => $"/api/v1/users?limit=50&email={Pick(i, "anna.mu", "david.s", "grace.k", "noah.w", "tara.j")}");
        await runner.GetAsync("users role", i => $"/api/v1/users?limit=50&role={Uri.EscapeDataString(Seeder.RolePrefix + Pick(i, "Support", "Sales", "Finance", "Auditor"))}");
        await runner.GetAsync("users q rare substring (FTS on SQLite)", i => $"/api/v1/users?limit=50&q={Pick(i, "99999", "123456", "77777", "54321")}");
        await runner.GetAsync("users q selective substring (FTS on SQLite)", i => $"/api/v1/users?limit=50&q={Pick(i, "ner12", "ski77", "ilmaz9", "rossi5")}");
        await runner.GetAsync("users q common substring (scan on SQLite)", i => $"/api/v1/users?limit=50&q={Pick(i, "mann", "ller", "@shop")}");
        await runner.GetAsync("users q short, 2 chars (scan)", i => $"/api/v1/users?limit=50&q={Pick(i, "an", "er")}");
        var firstPage = await runner.GetAsync("users sorted, page 1", _ => "/api/v1/users?limit=50&sort=username");
        var deepName = $"users sorted, page {deepPage:N0}";
        var cursors = runner.Wanted(deepName) ? await DeepCursorsAsync(provider, connection, deepPage, 50) : [];
        var deep = await runner.GetAsync(deepName, i => $"/api/v1/users?limit=50&sort=username&cursor={cursors[i % cursors.Count]}");
        await sampling.CancelAsync();
        await sampler;
        report.SearchPeakRssMb = peak;
        report.DeepPageRatio = deep.P95 / firstPage.P95;

        // Decisions against the bare endpoint, interleaved so that both see the same machine.
        var ids = runner.Wanted("POST /api/v1/authorize") ? await runner.UserIdsAsync() : [];
        var baseline = await runner.GetAsync("GET /healthz/live (baseline)", _ => "/healthz/live");
        var authorize = await runner.PostAsync("POST /api/v1/authorize", i => JsonContent.Create(new { userId = ids[i % ids.Count], resource = Pick(i, "support.area0", "finance.area1", "sales.reports", "nothing.here"), action = Pick(i, "read", "delete", "export") }));
        var baseline2 = await runner.GetAsync("GET /healthz/live (baseline, again)", _ => "/healthz/live");
        report.AuthorizeRatio = authorize.PerSecond / Math.Max(baseline.PerSecond, baseline2.PerSecond);
        report.AuthorizeP99 = authorize.P99;

        // The same questions a hundred at a time, as a menu asks them: checks per second against single calls.
        const int PerBatch = 100;
        var batch = await runner.BatchAsync($"POST /api/v1/authorize/batch ({PerBatch} checks)", i => JsonContent.Create(new
        {
            checks = Enumerable.Range(i * PerBatch, PerBatch).Select(n => new { userId = ids[n % ids.Count], resource = Pick(n, "support.area0", "finance.area1", "sales.reports", "nothing.here"), action = Pick(n, "read", "delete", "export") }),
        }));
        report.BatchChecksRatio = batch.PerSecond * PerBatch / authorize.PerSecond;
        report.BatchP99 = batch.P99;

        // Client credentials: the first token of each client pays PBKDF2; then repeats.
        var hasher = new PasswordHasher<User>(Microsoft.Extensions.Options.Options.Create(new PasswordHasherOptions { IterationCount = PasswordHashing.Iterations }));
        var hash = hasher.HashPassword(null!, Seeder.ClientSecret);
        var hashWatch = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            hasher.VerifyHashedPassword(null!, hash, Seeder.ClientSecret);
        }

        report.HashMs = hashWatch.Elapsed.TotalMilliseconds / 3;
        var cold = await runner.ColdTokensAsync();
        report.ColdTokenP50 = cold.P50;
        var hot = await runner.PostAsync("POST /connect/token (repeat client)", i => TokenForm(Seeder.ClientPrefix + (i % Seeder.Clients).ToString("D2", CultureInfo.InvariantCulture), Seeder.ClientSecret), bearer: false);
        report.RepeatTokens = hot;
        report.Results.AddRange(runner.Results);
        return report;
    }

    private static string Pick(int i, params string[] values) => values[i % values.Length];

    internal static FormUrlEncodedContent TokenForm(string client, string secret) => new(new Dictionary<string, string>
    {
        ["grant_type"] = "client_credentials",
        ["client_id"] = client,
        ["client_secret"] = secret,
    });

    public async Task<string> TokenAsync(string client, string secret)
    {
        using var response = await http.PostAsync(new Uri("/connect/token", UriKind.Relative), TokenForm(client, secret));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"token for {client}: {(int)response.StatusCode} {body}");
        }

        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    private async Task<List<Guid>> UserIdsAsync()
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri($"/api/v1/users?limit=50&role={Uri.EscapeDataString(Seeder.RolePrefix + "Finance")}", UriKind.Relative)), bearer: true);
        response.EnsureSuccessStatusCode();
        var page = await response.Content.ReadFromJsonAsync<JsonElement>();
        var ids = page.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetGuid()).ToList();
        return ids.Count > 0 ? ids : throw new InvalidOperationException("No seeded user holds a bench role: seed first.");
    }

    /// <summary>Cursors the API would hand out after rows page×limit−1 … of the username listing (keyed by the database's order).</summary>
    private static async Task<List<string>> DeepCursorsAsync(string provider, string connection, int page, int limit)
    {
        var cursors = new List<string>();
        var sql = "SELECT \"NormalizedUsername\" FROM users ORDER BY \"NormalizedUsername\" LIMIT 5 OFFSET " + ((long)(page - 1) * limit - 1).ToString(CultureInfo.InvariantCulture);
        if (provider == "postgres")
        {
            await using var pg = new NpgsqlConnection(connection);
            await pg.OpenAsync();
            await using var command = new NpgsqlCommand(sql, pg);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                cursors.Add(Cursor(reader.GetString(0)));
            }
        }
        else
        {
            await using var sqlite = new SqliteConnection(Seeder.SqliteConnection(connection));
            await sqlite.OpenAsync();
            await using var command = sqlite.CreateCommand();
            command.CommandText = sql;
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                cursors.Add(Cursor(reader.GetString(0)));
            }
        }

        return cursors.Count > 0 ? cursors : throw new InvalidOperationException($"The database has fewer than {page * limit} users for --deep-page {page}: give a page below the users / {limit}.");

        static string Cursor(string username) => WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(new[] { "username", username, username }));
    }

    /// <summary>POST /api/v1/authorize/batch with the admin's bearer token.</summary>
    public Task<ScenarioResult> BatchAsync(string name, Func<int, HttpContent> content)
        => RunAsync(name, i => new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/authorize/batch", UriKind.Relative)) { Content = content(i) }, bearer: true);

    /// <summary>A token scenario against any token endpoint (this server's, or a peer's at <paramref name="path"/>).</summary>
    public Task<ScenarioResult> TokensAsync(string name, string path, Func<int, HttpContent> form)
        => RunAsync(name, i => new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = form(i) }, bearer: false);

    private Task<ScenarioResult> GetAsync(string name, Func<int, string> path)
        => !Wanted(name) ? Task.FromResult(Skipped(name)) : RunAsync(name, i => new HttpRequestMessage(HttpMethod.Get, new Uri(path(i), UriKind.Relative)), bearer: !path(0).StartsWith("/healthz", StringComparison.Ordinal));

    private Task<ScenarioResult> PostAsync(string name, Func<int, HttpContent> content, bool bearer = true)
        => RunAsync(name, i => new HttpRequestMessage(HttpMethod.Post, new Uri(name.Contains("token", StringComparison.Ordinal) ? "/connect/token" : "/api/v1/authorize", UriKind.Relative)) { Content = content(i) }, bearer);

    private async Task<ScenarioResult> ColdTokensAsync()
    {
        const string name = "POST /connect/token (first of each client, sequential)";
        if (!Wanted(name))
        {
            return Skipped(name);
        }

        var latencies = new List<double>();
        var failures = 0;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < Seeder.Clients; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri("/connect/token", UriKind.Relative))
            {
                Content = TokenForm(Seeder.ClientPrefix + i.ToString("D2", CultureInfo.InvariantCulture), Seeder.ClientSecret),
            }, bearer: false);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            failures += response.IsSuccessStatusCode ? 0 : 1;
        }

        var result = Summarize(name, latencies, failures, watch.Elapsed.TotalSeconds);
        Report(result);
        return result;
    }

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, bool bearer)
    {
        // The token endpoint authenticates the client by its form; everything else by the admin's bearer token.
        if (bearer)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Bearer);
        }

        return http.SendAsync(request);
    }

    private async Task<ScenarioResult> RunAsync(string name, Func<int, HttpRequestMessage> request, bool bearer)
    {
        if (!Wanted(name))
        {
            return Skipped(name);
        }

        // Warm-up: JIT, connection pool, caches, the database's pages.
        var next = 0;
        var failures = 0;
        string? firstFailure = null;
        var warmupDeadline = Stopwatch.GetTimestamp() + (long)(bounds.Duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, bounds.Concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= bounds.Warmup && Stopwatch.GetTimestamp() < warmupDeadline)
            {
                using var response = await SendAsync(request(next), bearer);
            }
        }));

        next = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(bounds.Duration.TotalSeconds * Stopwatch.Frequency);
        var perWorker = new List<double>[bounds.Concurrency];
        var cpuBefore = ServerCpu?.Invoke();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, bounds.Concurrency).Select(async w =>
        {
            var mine = perWorker[w] = new List<double>(Math.Min(bounds.MaxRequests, 100_000));
            int i;
            while ((i = Interlocked.Increment(ref next)) <= bounds.MaxRequests && Stopwatch.GetTimestamp() < deadline)
            {
                var start = Stopwatch.GetTimestamp();
                using var response = await SendAsync(request(i), bearer);
                await response.Content.LoadIntoBufferAsync();
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                    firstFailure ??= $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                }
            }
        }));
        var elapsed = watch.Elapsed.TotalSeconds;
        var cpu = cpuBefore is null ? double.NaN : (ServerCpu!() - cpuBefore.Value).TotalSeconds;
        var result = Summarize(name, perWorker.SelectMany(l => l).ToList(), failures, elapsed) with { ServerCpuSeconds = cpu };
        Report(result);
        if (firstFailure is not null)
        {
            log.WriteLine($"  first failure: {firstFailure}");
        }

        return result;
    }

    private void Report(ScenarioResult result)
    {
        Results.Add(result);
        log.WriteLine(result.Row());
    }

    private static ScenarioResult Summarize(string name, List<double> latencies, int failures, double seconds)
    {
        latencies.Sort();
        double At(double p) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];
        return new ScenarioResult(name, latencies.Count, failures, seconds, At(0.50), At(0.95), At(0.99), latencies.Count == 0 ? double.NaN : latencies[^1]);
    }
}

/// <summary>Everything one `load` run measured, with the figures of the issue as ratios to their baselines.</summary>
internal sealed class LoadReport
{
    public required string Provider { get; init; }
    public required LoadBounds Bounds { get; init; }
    public List<ScenarioResult> Results { get; } = [];
    public double ColdStartMs { get; set; }
    public double IdleRssMb { get; set; }
    public double SearchPeakRssMb { get; set; }
    public double DeepPageRatio { get; set; }
    public double AuthorizeRatio { get; set; }
    public double AuthorizeP99 { get; set; }
    public double BatchChecksRatio { get; set; }
    public double BatchP99 { get; set; }
    public double HashMs { get; set; }
    public double ColdTokenP50 { get; set; }
    public ScenarioResult? RepeatTokens { get; set; }

    public int Failures => Results.Sum(r => r.Failures);

    public string Markdown()
    {
        var s = new StringBuilder();
        var i = CultureInfo.InvariantCulture;
        s.AppendLine(string.Create(i, $"provider {Provider}; {Environment.ProcessorCount} cores; concurrency {Bounds.Concurrency}; warm-up {Bounds.Warmup}; at most {Bounds.MaxRequests} requests or {Bounds.Duration.TotalSeconds:F0} s per scenario"));
        s.AppendLine();
        s.AppendLine("| scenario | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms | server cores busy | req per server CPU-s |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in Results)
        {
            s.AppendLine(r.Row());
        }

        s.AppendLine();
        s.AppendLine(string.Create(i, $"- cold start to healthy /healthz: {ColdStartMs:F0} ms"));
        s.AppendLine(string.Create(i, $"- RSS idle: {IdleRssMb:F0} MB; peak during the search scenarios: {SearchPeakRssMb:F0} MB"));
        s.AppendLine(string.Create(i, $"- deep page p95 / first page p95: {DeepPageRatio:F2}"));
        s.AppendLine(string.Create(i, $"- authorize req/s / baseline req/s: {AuthorizeRatio:P0}; authorize p99 {AuthorizeP99:F2} ms"));
        s.AppendLine(string.Create(i, $"- authorize batch of 100: checks/s / single-call checks/s: {BatchChecksRatio:F1}×; batch p99 {BatchP99:F2} ms"));
        if (RepeatTokens is { } t)
        {
            s.AppendLine(string.Create(i, $"- tokens, repeat clients: {t.PerSecond:F0}/s with the server using {t.ServerCores:F2} of {Environment.ProcessorCount} cores (the load client has the rest) = {t.PerServerCpuSecond:F0} per server CPU-second; {t.PerSecond / Environment.ProcessorCount:F0} per machine core"));
        }
        s.AppendLine(string.Create(i, $"- tokens: first token of a client p50 {ColdTokenP50:F0} ms against one PBKDF2 verification of {HashMs:F0} ms in the bench process"));
        return s.ToString();
    }
}
