using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// Debian's HAProxy in front of Tessera instances on loopback, configured as docs/operations.md recommends:
/// round-robin, health checks on /healthz, X-Forwarded-For, and a retry on another server when a connection fails or
/// a server closes it without an answer (so a killed instance costs at most the requests it had in flight). Each
/// answer names its server in X-Served-By, so a test can prove where a request went.
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/haproxy";

    /// <summary>
    /// HAProxy connects to the instances from this address, which the instances trust as their proxy
    /// (Tessera:Http:TrustedProxies). Test clients connect from other loopback addresses, which are not trusted, so the
    /// address an instance sees is the client's, as X-Forwarded-For carried it, and a client cannot choose it.
    /// </summary>
    public static readonly IPAddress SourceAddress = IPAddress.Parse("127.0.0.2");

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly DirectoryInfo _folder;

    private HaproxyProcess(Process process, DirectoryInfo folder, int port, IReadOnlyList<int> backends)
    {
        _process = process;
        _folder = folder;
        Port = port;
        Backends = backends;
    }

    public int Port { get; }

    /// <summary>The instances' ports, in the order of their server names (<see cref="ServerName"/>).</summary>
    public IReadOnlyList<int> Backends { get; }

    public string Url => $"http://127.0.0.1:{Port}";

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

    /// <summary>The name HAProxy gives the instance at <paramref name="index"/>, as X-Served-By shows it.</summary>
    public static string ServerName(int index) => $"tessera{index + 1}";

    /// <summary>The configuration, as docs/operations.md shows it (with loopback addresses and short check intervals).</summary>
    public static string Config(int port, IReadOnlyList<int> backends)
    {
        var config = new StringBuilder($"""
            global
                maxconn 1000

            defaults
                mode http
                timeout connect 2s
                timeout client 30s
                timeout server 30s
                # A request whose server died before answering goes to another one, once per server at most.
                retries 2
                option redispatch 1
                retry-on conn-failure empty-response
                # Only requests that carry a body of at most this size can be retried (HAProxy keeps a copy).
                option http-buffer-request

            frontend tessera
                bind 127.0.0.1:{port}
                option forwardfor
                default_backend instances

            backend instances
                balance roundrobin
                option httpchk GET /healthz
                http-check expect status 200
                http-response set-header X-Served-By %s
                source {SourceAddress}
                default-server check inter 500ms fall 2 rise 2

            """);
        for (var i = 0; i < backends.Count; i++)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"    server {ServerName(i)} 127.0.0.1:{backends[i]}");
        }

        return config.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>Starts HAProxy on a free loopback port in front of <paramref name="backends"/>; fails with its output when it does not listen.</summary>
    public static async Task<HaproxyProcess> StartAsync(IReadOnlyList<int> backends, int? port = null)
    {
        var folder = Directory.CreateTempSubdirectory("tessera-haproxy-");
        var chosen = port ?? TesseraApp.FreePort();
        var path = Path.Combine(folder.FullName, "haproxy.cfg");
        await File.WriteAllTextAsync(path, Config(chosen, backends));

        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder.FullName,
        };
        foreach (var arg in new[] { "-db", "-f", path })
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var haproxy = new HaproxyProcess(process, folder, chosen, backends);
        process.OutputDataReceived += (_, e) => haproxy.Append(e.Data);
        process.ErrorDataReceived += (_, e) => haproxy.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var watch = Stopwatch.StartNew();
        while (!await ListensAsync(chosen))
        {
            if (process.HasExited || watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                var output = haproxy.Output;
                await haproxy.DisposeAsync();
                throw new InvalidOperationException($"HAProxy did not start on port {chosen}. Its output:\n{output}");
            }

            await Task.Delay(50);
        }

        return haproxy;
    }

    private static async Task<bool> ListensAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>
    /// An HTTP client whose connections come from <paramref name="from"/> (any 127.x.y.z address, all on loopback), so
    /// that tests can play clients at distinct addresses.
    /// </summary>
    public static HttpClient ClientFrom(IPAddress from, string baseUrl, bool cookies = false)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = cookies,
            CookieContainer = new CookieContainer(),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(15) };
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is cleaned by the OS.
        }
    }
}
