using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of a test's own, which the test may stop and start: created with initdb in a temporary
/// folder, served on a free loopback port, and removed (stopped at once, folder deleted) on dispose, or when
/// the test process exits. PostgreSQL refuses to run as root, so under root (as in CI) its programs run as the
/// `postgres` user, as test.sh does. Never the shared cluster of TESSERA_TEST_POSTGRES, which other tests use.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _bin;
    private readonly string _folder;
    private readonly string? _runAs;
    private int _disposed;

    private PostgresCluster(string bin, string folder, string? runAs, int port)
    {
        _bin = bin;
        _folder = folder;
        _runAs = runAs;
        Port = port;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public int Port { get; }

    private string DataFolder => Path.Combine(_folder, "data");

    /// <summary>A connection string to <paramref name="database"/>, as Tessera gets it.</summary>
    public string ConnectionString(string database)
        => new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "tessera", Database = database }.ToString();

    public static async Task<PostgresCluster> CreateAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("No PostgreSQL under /usr/lib/postgresql/*/bin: install Debian's postgresql package (test.sh does).");
        }

        var folder = Directory.CreateTempSubdirectory("tessera-fault-pg-").FullName;
        string? runAs = null;
        if (Environment.UserName == "root")
        {
            runAs = "postgres";
            if ((await RunAsync("id", ["postgres"], check: false)).ExitCode != 0)
            {
                await RunAsync("useradd", ["--system", "--home", "/var/lib/postgresql", "--shell", "/bin/bash", "postgres"]);
            }

            await RunAsync("chown", ["postgres", folder]);
        }

        var cluster = new PostgresCluster(bin, folder, runAs, TesseraApp.FreePort());
        try
        {
            await cluster.PgAsync("initdb", "-D", cluster.DataFolder, "-U", "tessera", "-A", "trust", "--no-sync", "-E", "UTF8");
            await cluster.StartAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the cluster and returns once it accepts connections.</summary>
    public Task StartAsync() => PgAsync("pg_ctl", "-D", DataFolder, "-l", Path.Combine(_folder, "log"), "-w", "-t", "60",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k {_folder} -c fsync=off -c max_connections=200", "start");

    /// <summary>Stops the cluster as an operator would (fast: open sessions are ended), and returns once it is down.</summary>
    public Task StopAsync() => PgAsync("pg_ctl", "-D", DataFolder, "-m", "fast", "-w", "-t", "60", "stop");

    /// <summary>Starts the cluster unless it runs (a test that failed may have left it stopped).</summary>
    public async Task EnsureStartedAsync()
    {
        var status = await RunAsync(_runAs is null ? Path.Combine(_bin, "pg_ctl") : "runuser", PgArguments("pg_ctl", "-D", DataFolder, "status"), check: false);
        if (status.ExitCode != 0)
        {
            await StartAsync();
        }
    }

    public async Task CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString("postgres")) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<long> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString(database)) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        await RunAsync(_runAs is null ? Path.Combine(_bin, "pg_ctl") : "runuser", PgArguments("pg_ctl", "-D", DataFolder, "-m", "immediate", "-w", "stop"), check: false);
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task PgAsync(string program, params string[] arguments)
        => await RunAsync(_runAs is null ? Path.Combine(_bin, program) : "runuser", PgArguments(program, arguments), logFile: Path.Combine(_folder, "log"));

    private string[] PgArguments(string program, params string[] arguments)
        => _runAs is null ? arguments : ["-u", _runAs, "--", Path.Combine(_bin, program), .. arguments];

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] arguments, bool check = true, string? logFile = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(CommandTimeout))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {CommandTimeout.TotalSeconds} s.");
            }
        }

        var output = new StringBuilder().Append(await stdout).Append(await stderr).ToString();
        if (check && process.ExitCode != 0)
        {
            var log = logFile is not null && File.Exists(logFile) ? "\n--- server log\n" + await File.ReadAllTextAsync(logFile) : "";
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{output}{log}");
        }

        return (process.ExitCode, output);
    }
}
