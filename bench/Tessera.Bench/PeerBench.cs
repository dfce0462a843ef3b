using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Bench;

/// <summary>
/// `peer`: client-credentials tokens from Tessera and from panva's oidc-provider (tests/support/oidc-provider),
/// side by side on this machine. Both authenticate the client by `client_secret_post` and answer an ES256-signed
/// JWT access token; the peer compares a plaintext secret and stores and audits nothing, while Tessera verifies a
/// hashed secret (remembered after the first), checks the client's standing and audits every token. The two
/// servers run alternately, round after round at each concurrency, so that both see the same machine; the report
/// gives tokens per server CPU-second, p50 and p99 of each, and Tessera's ratio to the peer.
/// </summary>
internal static class PeerBench
{
    public sealed record Bounds(int[] Concurrencies, int Rounds, TimeSpan Duration, int Warmup);

    public sealed record Row(string Server, int Concurrency, int Tokens, int Failures, double Seconds, double CpuSeconds, double P50, double P99)
    {
        public double PerCpuSecond => Tokens / CpuSeconds;
    }

    public static async Task<int> RunAsync(Args args)
    {
        var provider = args.Get("provider", "sqlite").ToLowerInvariant();
        var connection = args.Get("connection") ?? throw new ArgumentException("--connection is required (a seeded database).");
        var bounds = new Bounds(
            [.. args.Get("concurrency", "2,8").Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))],
            args.Int("rounds", 3), TimeSpan.FromSeconds(args.Double("seconds", 10)), args.Int("warmup", 500));
        var rows = await MeasureAsync(provider, connection, args.Get("server-dll") ?? ServerProcess.DefaultDll(), bounds, Console.Out);
        var report = Markdown(provider, bounds, rows);
        Console.WriteLine(report);
        if (args.Get("out") is { } output)
        {
            await File.WriteAllTextAsync(output, report);
        }

        return rows.Sum(r => r.Failures) == 0 ? 0 : 1;
    }

    /// <summary>Tessera as shipped (its appsettings.json), Tessera with every category at Warning, and the peer.</summary>
    public const string Shipped = "Tessera";
    public const string Quiet = "Tessera, Warning logging";
    public const string Peer = "oidc-provider";

    public static async Task<List<Row>> MeasureAsync(string provider, string connection, string dll, Bounds bounds, TextWriter log)
    {
        await using var tessera = await ServerProcess.StartAsync(dll, provider, connection, log);
        await using var quiet = await ServerProcess.StartAsync(dll, provider, connection, log,
            new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Tessera"] = "Warning" });
        await using var peer = await PeerProcess.StartAsync(log);
        // Every client's first token pays for verifying its hashed secret at Tessera (PBKDF2): the scenario is the
        // repeat client, so each client gets one token from each server before anything is measured.
        await FirstTokensAsync(tessera.Url, "/connect/token");
        await FirstTokensAsync(quiet.Url, "/connect/token");
        await FirstTokensAsync(peer.Url, "/token");
        var servers = new (string Name, Uri Url, string Path, Func<TimeSpan> Cpu)[]
        {
            (Shipped, tessera.Url, "/connect/token", () => tessera.CpuTime()),
            (Quiet, quiet.Url, "/connect/token", () => quiet.CpuTime()),
            (Peer, peer.Url, "/token", () => peer.CpuTime()),
        };
        var samples = new List<(string Server, int Concurrency, ScenarioResult Result)>();
        foreach (var round in Enumerable.Range(1, bounds.Rounds))
        {
            foreach (var concurrency in bounds.Concurrencies)
            {
                var load = new LoadBounds(concurrency, bounds.Warmup, int.MaxValue, bounds.Duration);
                foreach (var server in servers)
                {
                    samples.Add((server.Name, concurrency, await TokensAsync(server.Url, server.Path, server.Cpu, load, $"{server.Name}, round {round}, concurrency {concurrency}", log)));
                }
            }
        }

        // Each server's rounds at one concurrency pooled: tokens and CPU summed, latencies as the rounds' median.
        return [.. samples.GroupBy(s => (s.Server, s.Concurrency)).Select(g => new Row(g.Key.Server, g.Key.Concurrency,
            g.Sum(s => s.Result.Requests), g.Sum(s => s.Result.Failures), g.Sum(s => s.Result.Seconds), g.Sum(s => s.Result.ServerCpuSeconds),
            Median(g.Select(s => s.Result.P50)), Median(g.Select(s => s.Result.P99))))];
    }

    private static async Task<ScenarioResult> TokensAsync(Uri url, string path, Func<TimeSpan> cpu, LoadBounds bounds, string name, TextWriter log)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = bounds.Concurrency * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(30) };
        using var http = new HttpClient(handler) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        var runner = new LoadRunner(http, bounds, log) { ServerCpu = cpu };
        return await runner.TokensAsync(name, path, i => LoadRunner.TokenForm(Client(i), Seeder.ClientSecret));
    }

    private static async Task FirstTokensAsync(Uri url, string path)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        for (var i = 0; i < Seeder.Clients; i++)
        {
            using var response = await http.PostAsync(new Uri(path, UriKind.Relative), LoadRunner.TokenForm(Client(i), Seeder.ClientSecret));
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"{url}{path.TrimStart('/')} refused {Client(i)}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }
    }

    private static string Client(int i) => Seeder.ClientPrefix + (i % Seeder.Clients).ToString("D2", CultureInfo.InvariantCulture);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    public static string Markdown(string provider, Bounds bounds, List<Row> rows)
    {
        var i = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(string.Create(i, $"provider {provider}; {Environment.ProcessorCount} cores; {bounds.Rounds} alternating rounds of {bounds.Duration.TotalSeconds:F0} s per server and concurrency; {Seeder.Clients} repeat clients"));
        s.AppendLine();
        s.AppendLine("| server | concurrency | tokens | failures | tokens/s | tokens per server CPU-s | p50 ms | p99 ms |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows.OrderBy(r => r.Concurrency).ThenBy(r => r.Server, StringComparer.Ordinal))
        {
            s.AppendLine(string.Create(i, $"| {r.Server} | {r.Concurrency} | {r.Tokens} | {r.Failures} | {r.Tokens / r.Seconds:F0} | {r.PerCpuSecond:F0} | {r.P50:F2} | {r.P99:F2} |"));
        }

        s.AppendLine();
        foreach (var concurrency in bounds.Concurrencies)
        {
            var theirs = rows.Single(r => r.Server == Peer && r.Concurrency == concurrency);
            foreach (var ours in rows.Where(r => r.Server != Peer && r.Concurrency == concurrency))
            {
                s.AppendLine(string.Create(i, $"- concurrency {concurrency}: {ours.Server} / {Peer}, tokens per server CPU-second: {ours.PerCpuSecond / theirs.PerCpuSecond:F2}×; p50 {ours.P50 / theirs.P50:F2}×, p99 {ours.P99 / theirs.P99:F2}× (lower is faster)"));
            }
        }

        return s.ToString();
    }
}

/// <summary>oidc-provider from tests/support on a free loopback port, configured with the bench's clients.</summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    public const string Resource = "urn:tessera:bench";

    private readonly Process process;
    private readonly string config;

    private PeerProcess(Process process, string config, Uri url, TimeSpan coldStart)
    {
        this.process = process;
        this.config = config;
        Url = url;
        ColdStart = coldStart;
    }

    public Uri Url { get; }

    /// <summary>From process start to the first 200 of its discovery document.</summary>
    public TimeSpan ColdStart { get; }

    public double RssMegabytes() => ServerProcess.RssMegabytes(process);

    public TimeSpan CpuTime()
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    public static async Task<PeerProcess> StartAsync(TextWriter log)
    {
        var folder = Path.Combine(ServerProcess.RepositoryRoot(), "tests", "support", "oidc-provider");
        if (!Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            throw new InvalidOperationException($"The peer is not installed: run `bash tests/support/install.sh` ({folder}).");
        }

        var config = Path.Combine(Path.GetTempPath(), $"tessera-bench-peer-{Guid.NewGuid():N}.json");
        var clients = Enumerable.Range(0, Seeder.Clients).Select(n => new Dictionary<string, object>
        {
            ["client_id"] = Seeder.ClientPrefix + n.ToString("D2", CultureInfo.InvariantCulture),
            ["client_secret"] = Seeder.ClientSecret,
            ["grant_types"] = new[] { "client_credentials" },
            ["response_types"] = Array.Empty<string>(),
            ["redirect_uris"] = Array.Empty<string>(),
            ["token_endpoint_auth_method"] = "client_secret_post",
        });
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new { clients, clientCredentials = new { resource = Resource } }));

        var info = new ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = folder };
        info.ArgumentList.Add("server.js");
        info.ArgumentList.Add("0");
        info.ArgumentList.Add(config);
        info.Environment["EXIT_WITH_STDIN"] = "1";
        info.Environment["NODE_ENV"] = "production";
        var watch = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start node.");
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) { errors.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line is null || !line.StartsWith("READY ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"oidc-provider did not start: {line}\n{errors}");
        }

        // Ready as Tessera's start is measured: when it first answers a request a client would make.
        var url = new Uri(line["READY ".Length..]);
        using (var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) })
        {
            using var discovery = await http.GetAsync(new Uri("/.well-known/openid-configuration", UriKind.Relative));
            if (!discovery.IsSuccessStatusCode)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"oidc-provider answered its discovery document with {(int)discovery.StatusCode}.\n{errors}");
            }
        }

        var peer = new PeerProcess(process, config, url, watch.Elapsed);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peer: oidc-provider pid {process.Id} on {peer.Url}, discovery answered after {peer.ColdStart.TotalMilliseconds:F0} ms"));
        return peer;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        File.Delete(config);
    }
}
