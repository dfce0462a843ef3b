using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// Debian's Prometheus server (/usr/bin/prometheus) on a free loopback port, scraping one target every second, with
/// its data in a temporary folder. <see cref="QueryAsync"/> reads a series back through its HTTP API, as a dashboard
/// or an alert rule would. Killed, and its folder removed, on dispose.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    public const string Executable = "/usr/bin/prometheus";

    private readonly Process _process;
    private readonly DirectoryInfo _folder;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private PrometheusProcess(Process process, DirectoryInfo folder, int port)
    {
        _process = process;
        _folder = folder;
        Port = port;
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port) at <paramref name="metricsPath"/> every second; returns once it is ready.</summary>
    public static async Task<PrometheusProcess> StartAsync(string target, string metricsPath = "/metrics", TimeSpan? timeout = null)
    {
        var folder = Directory.CreateTempSubdirectory("tessera-prometheus-");
        var config = Path.Combine(folder.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: tessera
                metrics_path: {metricsPath}
                static_configs:
                  - targets: ['{target}']
            """);
        var port = TesseraApp.FreePort();
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder.FullName,
        };
        info.ArgumentList.Add("--config.file=" + config);
        info.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(folder.FullName, "data"));
        info.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var prometheus = new PrometheusProcess(process, folder, port);
        process.OutputDataReceived += (_, e) => prometheus.Append(e.Data);
        process.ErrorDataReceived += (_, e) => prometheus.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await prometheus.WaitUntilReadyAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
        catch
        {
            await prometheus.DisposeAsync();
            throw;
        }

        return prometheus;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Prometheus exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var ready = await _http.GetAsync("/-/ready");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("Prometheus was not ready in time:\n" + Output);
    }

    /// <summary>An instant query (PromQL); the `data.result` array of the answer.</summary>
    public async Task<JsonElement> QueryAsync(string promql)
    {
        var body = await _http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException("Prometheus refused the query " + promql + ": " + body);
        }

        return root.GetProperty("data").GetProperty("result").Clone();
    }

    /// <summary>The sum of the values of an instant query's series, or null while it has none.</summary>
    public async Task<double?> ValueAsync(string promql)
    {
        var result = await QueryAsync(promql);
        if (result.GetArrayLength() == 0)
        {
            return null;
        }

        return result.EnumerateArray().Sum(series => double.Parse(series.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
    }

    /// <summary>Polls the query until its value satisfies <paramref name="done"/>, with a hard deadline; returns the last value.</summary>
    public async Task<double?> WaitForValueAsync(string promql, Func<double, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        double? value = null;
        while (DateTime.UtcNow < deadline)
        {
            value = await ValueAsync(promql);
            if (value is { } v && done(v))
            {
                return value;
            }

            await Task.Delay(250);
        }

        return value;
    }

    /// <summary>What Prometheus says about its scrape targets (health, last error), for failure messages.</summary>
    public async Task<string> TargetsAsync()
    {
        try
        {
            return await _http.GetStringAsync("/api/v1/targets");
        }
        catch (HttpRequestException e)
        {
            return e.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _http.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temporary folder is cleaned by the system eventually.
        }
    }
}
