using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tessera.Bench;

/// <summary>A Tessera server started from its built dll on a free loopback port, for the load scenarios.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    public const string AdminClientId = "bench-admin";
    public const string AdminClientSecret = "bench-Admin-Secret-8d2a41!";

    private readonly Process process;

    private ServerProcess(Process process, Uri url, TimeSpan coldStart)
    {
        this.process = process;
        Url = url;
        ColdStart = coldStart;
    }

    public Uri Url { get; }

    /// <summary>From process start to the first 200 of /healthz.</summary>
    public TimeSpan ColdStart { get; }

    public int Id => process.Id;

    /// <summary>CPU time the server process has used so far, user and system (on Linux from /proc/&lt;pid&gt;/stat).</summary>
    public TimeSpan CpuTime()
    {
        process.Refresh();
        return process.TotalProcessorTime;
    }

    /// <summary>Resident set size of the server, from /proc (Linux), in MB.</summary>
    public double RssMegabytes() => RssMegabytes(process);

    /// <summary>Resident set size of a process, from /proc/&lt;pid&gt;/status (Linux; the working set elsewhere), in MB.</summary>
    public static double RssMegabytes(Process process)
    {
        process.Refresh();
        var status = $"/proc/{process.Id}/status";
        if (File.Exists(status))
        {
            var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            if (line is not null)
            {
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return process.WorkingSet64 / 1024.0 / 1024.0;
    }

    /// <summary>The repository this bench was built in: bench/Tessera.Bench/bin/&lt;Configuration&gt;/net10.0 is five levels down.</summary>
    public static string RepositoryRoot() => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar), "..", "..", "..", "..", ".."));

    public static string DefaultDll()
    {
        // bench/Tessera.Bench/bin/<Configuration>/net10.0 → src/Tessera.Server/bin/<Configuration>/net10.0
        var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var configuration = Path.GetFileName(Path.GetDirectoryName(here)!);
        var root = RepositoryRoot();
        var dll = Path.Combine(root, "src", "Tessera.Server", "bin", configuration, "net10.0", "Tessera.Server.dll");
        return File.Exists(dll) ? dll : Path.Combine(here, "Tessera.Server.dll");
    }

    public static async Task<ServerProcess> StartAsync(string dll, string provider, string connection, TextWriter log, IDictionary<string, string>? settings = null)
    {
        var port = FreePort();
        var url = new Uri($"http://127.0.0.1:{port}");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        info.ArgumentList.Add(dll);
        info.Environment["ASPNETCORE_URLS"] = url.ToString();
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Tessera__PublicUrl"] = url.ToString();
        info.Environment["Tessera__Database__Provider"] = provider;
        info.Environment["ConnectionStrings__Tessera"] = provider == "sqlite" ? Seeder.SqliteConnection(connection) : connection;
        info.Environment["Tessera__Bootstrap__AdminPassword"] = AdminClientSecret;
        info.Environment["Tessera__Bootstrap__ApiClientId"] = AdminClientId;
        info.Environment["Tessera__Bootstrap__ApiClientSecret"] = AdminClientSecret;
        // The load scenarios fire thousands of token requests a second from one loopback address, far beyond the
        // per-address limit an operator would keep; the bench measures the token path, not the limiter's refusals.
        info.Environment["Tessera__RateLimits__Token__PermitLimit"] = "0";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var watch = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the server.");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {process.ExitCode}:\n{output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (watch.Elapsed > TimeSpan.FromMinutes(5))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"The server did not become healthy within 5 minutes:\n{output}");
            }

            await Task.Delay(10);
        }

        var server = new ServerProcess(process, url, watch.Elapsed);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server: pid {process.Id} on {url}, healthy after {server.ColdStart.TotalMilliseconds:F0} ms"));
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
