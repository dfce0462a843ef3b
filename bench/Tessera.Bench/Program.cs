using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Tessera.Bench;

// Tessera's benchmarks: seed, load, micro, and smoke (all three, small and short, for test.sh).
var command = args.FirstOrDefault() ?? "help";
try
{
    var options = new Args(args.Skip(1));
    switch (command)
    {
        case "seed":
            return await Seeder.RunAsync(options);
        case "load":
            return await LoadRunner.RunAsync(options);
        case "report":
            return await ReportBench.RunAsync(options);
        case "peer":
            return await PeerBench.RunAsync(options);
        case "start":
            return await StartBench.RunAsync(options);
        case "micro":
            return Micro(options.Flag("smoke"), args.Skip(1).Where(a => a != "--smoke").ToArray());
        case "smoke":
            return await SmokeAsync(options);
        default:
            Console.WriteLine("""
                usage: Tessera.Bench <command> [options]
                  seed  --provider sqlite|postgres --connection <file or connection string> [--users 1000000]
                  load  --provider sqlite|postgres --connection <seeded database> [--server-dll path] [--concurrency 4]
                        [--warmup 200] [--requests 20000] [--seconds 10] [--deep-page 10000] [--out report.md]
                        [--only <part of scenario names>, e.g. --only token]
                  report --provider sqlite|postgres --connection <seeded database> [--server-dll path] [--out report.md]
                        the access report (CSV, JSON) against the paged users list, rows/s and server peak RSS
                  peer  --provider sqlite|postgres --connection <seeded database> [--server-dll path] [--concurrency 2,8]
                        [--rounds 3] [--seconds 10] [--warmup 500] [--out report.md]
                        client-credentials tokens from Tessera and oidc-provider (tests/support), alternately; ratio per CPU-s
                  start --provider sqlite|postgres --connection <seeded database> [--server-dll path] [--starts 5]
                        [--warmup-starts 1] [--out report.md] [--compare "label:dll:KEY=VALUE;KEY=VALUE|..."]
                        cold start to a ready /healthz and idle RSS 1 s after, alternating with oidc-provider's start
                  micro [BenchmarkDotNet options, e.g. --filter *]    (run with -c Release)
                  smoke [--users 10000]    seed a temporary SQLite file, load briefly (the batch and the peer too), one start of each, micro in dry mode
                """);
            return command == "help" ? 0 : 2;
    }
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or TimeoutException)
{
    // A wrong option, a database that does not fit the run, a server or peer that would not start: the
    // message says which and what to do; a stack trace would only bury it.
    Console.Error.WriteLine($"Tessera.Bench {command}: {e.Message}");
    return 2;
}

static int Micro(bool smoke, string[] rest)
{
    // In-process: no separate build of a benchmark project, so it runs from a fresh clone as it is.
    var job = (smoke ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
    var config = ManualConfig.Create(DefaultConfig.Instance).AddJob(job);
    if (smoke)
    {
        // test.sh builds Debug; the smoke run proves the benchmarks still run, not how fast.
        config = config.WithOptions(ConfigOptions.DisableOptimizationsValidator)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "tessera-bench-artifacts"));
    }

    var summaries = rest.Length == 0
        ? [BenchmarkRunner.Run<AccessBenchmarks>(config)]
        : BenchmarkSwitcher.FromAssembly(typeof(AccessBenchmarks).Assembly).Run(rest, config);
    return summaries.All(s => !s.HasCriticalValidationErrors && s.Reports.All(r => r.Success)) ? 0 : 1;
}

static async Task<int> SmokeAsync(Args options)
{
    var users = options.Int("users", 10_000);
    var folder = Directory.CreateTempSubdirectory("tessera-bench-");
    try
    {
        var database = Path.Combine(folder.FullName, "tessera.db");
        var watch = Stopwatch.StartNew();
        await Seeder.SeedAsync("sqlite", database, users, Console.Out);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"smoke: seeded {users:N0} users in {watch.Elapsed.TotalSeconds:F1} s"));
        var bounds = new LoadBounds(Concurrency: 2, Warmup: 5, MaxRequests: 60, Duration: TimeSpan.FromSeconds(1));
        var report = await LoadRunner.RunAllAsync("sqlite", database, options.Get("server-dll") ?? ServerProcess.DefaultDll(), bounds, deepPage: users / 100, Console.Out);
        Console.WriteLine(report.Markdown());
        if (report.Failures > 0)
        {
            Console.Error.WriteLine($"smoke: {report.Failures} requests failed.");
            return 1;
        }

        var peerBounds = new PeerBench.Bounds([2], Rounds: 1, Duration: TimeSpan.FromSeconds(1), Warmup: 5);
        var peer = await PeerBench.MeasureAsync("sqlite", database, options.Get("server-dll") ?? ServerProcess.DefaultDll(), peerBounds, Console.Out);
        Console.WriteLine(PeerBench.Markdown("sqlite", peerBounds, peer));
        if (peer.Sum(r => r.Failures) > 0)
        {
            Console.Error.WriteLine("smoke: token requests to Tessera or the peer failed.");
            return 1;
        }

        StartBench.Variant[] tessera = [new("Tessera", options.Get("server-dll") ?? ServerProcess.DefaultDll(), [])];
        var starts = await StartBench.MeasureAsync("sqlite", database, tessera, starts: 1, warmupStarts: 0, Console.Out);
        Console.WriteLine(StartBench.Markdown("sqlite", 1, tessera, starts));
        return Micro(smoke: true, []);
    }
    finally
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        folder.Delete(recursive: true);
    }
}
