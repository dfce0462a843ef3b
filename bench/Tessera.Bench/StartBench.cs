using System.Globalization;
using System.Text;

namespace Tessera.Bench;

/// <summary>
/// `start`: cold start and idle memory. Starts the server N times against a seeded database as `load` does
/// (<see cref="ServerProcess"/>), each time measuring process start to the first 200 of the readiness check
/// (/healthz), the CPU it used by then, and its RSS 1 s later with no other request; alternating with each start,
/// the peer (<see cref="PeerProcess"/>, panva's oidc-provider) is started and measured the same way (to the first
/// answer of its discovery document), as the baseline of the same run. Optional variants (other builds, or
/// runtime settings in the environment) take their turn in the same rotation, so that they see the same machine;
/// on SQLite each starts on its own copy of the database. On PostgreSQL, compare builds that keep the same bootstrap
/// fingerprint (or one build and builds from before it): builds that keep different ones make each other's starts run
/// the whole bootstrap.
/// </summary>
internal static class StartBench
{
    /// <param name="Database">A copy of the SQLite database this variant starts on; null for the one given.</param>
    public sealed record Variant(string Label, string Dll, Dictionary<string, string> Environment, string? Database = null);

    public sealed record Sample(string Label, int Round, double StartMs, double CpuMs, double IdleRssMb);

    public static async Task<int> RunAsync(Args args)
    {
        var provider = args.Get("provider", "sqlite").ToLowerInvariant();
        var connection = args.Get("connection") ?? throw new ArgumentException("--connection is required (a seeded database).");
        var starts = args.Int("starts", 5);
        var variants = new List<Variant> { new("Tessera", args.Get("server-dll") ?? ServerProcess.DefaultDll(), []) };
        variants.AddRange(ParseVariants(args.Get("compare")));
        if (provider == "sqlite")
        {
            // Each build keeps its own bootstrap fingerprint in the database it starts on, and two builds taking turns on
            // one database would each find the other's and run the whole bootstrap: every variant after the first gets a copy.
            var source = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Seeder.SqliteConnection(connection)).DataSource;
            for (var v = 1; v < variants.Count; v++)
            {
                var copy = $"{source}.start-{v}.db";
                await using var db = new Microsoft.Data.Sqlite.SqliteConnection(Seeder.SqliteConnection(connection));
                await db.OpenAsync();
                await using var command = db.CreateCommand();
                File.Delete(copy);
                command.CommandText = "VACUUM INTO $copy";
                command.Parameters.AddWithValue("$copy", copy);
                await command.ExecuteNonQueryAsync();
                variants[v] = variants[v] with { Database = copy };
            }
        }
        var samples = await MeasureAsync(provider, connection, variants, starts, args.Int("warmup-starts", 1), Console.Out);
        foreach (var copy in variants.Select(v => v.Database).OfType<string>())
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(copy);
        }

        var report = Markdown(provider, starts, variants, samples);
        Console.WriteLine(report);
        if (args.Get("out") is { } output)
        {
            await File.WriteAllTextAsync(output, report);
        }

        return 0;
    }

    /// <summary>`label:dll:KEY=VALUE;KEY=VALUE|label2:dll2:...`; an empty dll is the default one.</summary>
    private static IEnumerable<Variant> ParseVariants(string? spec)
    {
        foreach (var part in (spec ?? "").Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var fields = part.Split(':', 3);
            var dll = fields.Length > 1 && fields[1].Length > 0 ? fields[1] : ServerProcess.DefaultDll();
            var environment = (fields.Length > 2 ? fields[2] : "").Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
            yield return new Variant(fields[0], dll, environment);
        }
    }

    public static async Task<List<Sample>> MeasureAsync(string provider, string connection, IReadOnlyList<Variant> variants, int starts, int warmupStarts, TextWriter log)
    {
        var samples = new List<Sample>();
        // Unmeasured first rounds: the files are in the page cache and the database has been opened once (a first
        // start after a seed or a migration does work that later starts do not), for every start measured after.
        for (var round = 1 - warmupStarts; round <= starts; round++)
        {
            foreach (var variant in variants)
            {
                await using var server = await ServerProcess.StartAsync(variant.Dll, provider, variant.Database ?? connection, log, variant.Environment);
                var cpu = server.CpuTime();
                await Task.Delay(TimeSpan.FromSeconds(1));
                var sample = new Sample(variant.Label, round, server.ColdStart.TotalMilliseconds, cpu.TotalMilliseconds, server.RssMegabytes());
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(round < 1 ? "warm-up " : "")}{variant.Label}: ready {sample.StartMs:F0} ms, CPU {sample.CpuMs:F0} ms, idle RSS {sample.IdleRssMb:F1} MB"));
                if (round >= 1)
                {
                    samples.Add(sample);
                }
            }

            await using var peer = await PeerProcess.StartAsync(log);
            var peerCpu = peer.CpuTime();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var peerSample = new Sample("oidc-provider", round, peer.ColdStart.TotalMilliseconds, peerCpu.TotalMilliseconds, peer.RssMegabytes());
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(round < 1 ? "warm-up " : "")}oidc-provider: ready {peerSample.StartMs:F0} ms, CPU {peerSample.CpuMs:F0} ms, idle RSS {peerSample.IdleRssMb:F1} MB"));
            if (round >= 1)
            {
                samples.Add(peerSample);
            }
        }

        return samples;
    }

    public static string Markdown(string provider, int starts, IReadOnlyList<Variant> variants, List<Sample> samples)
    {
        var i = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        s.AppendLine(string.Create(i, $"provider {provider}; {Environment.ProcessorCount} cores; {starts} starts of each, alternating; load average at the end {load}"));
        s.AppendLine();
        s.AppendLine("| server | ready ms, median (range) | CPU by ready ms, median | idle RSS MB, median (range) | per start: ready ms / idle RSS MB |");
        s.AppendLine("| --- | ---: | ---: | ---: | --- |");
        var labels = variants.Select(v => v.Label).Append("oidc-provider").ToList();
        foreach (var label in labels)
        {
            var mine = samples.Where(x => x.Label == label).OrderBy(x => x.Round).ToList();
            var each = string.Join(", ", mine.Select(x => string.Create(i, $"{x.StartMs:F0} / {x.IdleRssMb:F1}")));
            s.AppendLine(string.Create(i, $"| {label} | {Median(mine.Select(x => x.StartMs)):F0} ({mine.Min(x => x.StartMs):F0}–{mine.Max(x => x.StartMs):F0}) | {Median(mine.Select(x => x.CpuMs)):F0} | {Median(mine.Select(x => x.IdleRssMb)):F1} ({mine.Min(x => x.IdleRssMb):F1}–{mine.Max(x => x.IdleRssMb):F1}) | {each} |"));
        }

        s.AppendLine();
        var peer = samples.Where(x => x.Label == "oidc-provider").ToList();
        foreach (var variant in variants)
        {
            var mine = samples.Where(x => x.Label == variant.Label).ToList();
            s.AppendLine(string.Create(i, $"- {variant.Label} / oidc-provider, medians: ready {Median(mine.Select(x => x.StartMs)) / Median(peer.Select(x => x.StartMs)):F1}×, idle RSS {Median(mine.Select(x => x.IdleRssMb)) / Median(peer.Select(x => x.IdleRssMb)):F1}× ({variant.Dll}{(variant.Environment.Count == 0 ? "" : "; " + string.Join(' ', variant.Environment.Select(e => $"{e.Key}={e.Value}")))})"));
        }

        return s.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
