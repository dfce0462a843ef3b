using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ScaleOut;

/// <summary>
/// Three instances of the built service, as real processes, on one fresh PostgreSQL database, behind HAProxy: the
/// deployment docs/operations.md describes. Every instance has the balancer's address as its PublicUrl (the one
/// issuer of every token) and trusts the balancer's source address to say who the client is. Otherwise the shipped
/// defaults hold (the caller cache bound of 5 s included), except a sign-in limit of 5 per address so that the
/// multiplication of the per-instance limits shows in a few requests.
/// </summary>
public sealed class ScaleOutCluster : IAsyncLifetime
{
    public const int Instances = 3;
    public const int SignInPermitLimit = 5;
    public const string AdminUsername = "admin";
    public const string AdminPassword = "Scale-Admin-Password-1234";
    public const string ApiClientId = "scale-api";
    public const string ApiClientSecret = "Scale-Api-Secret-1234";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tessera-scaleout-");
    private readonly List<ServerProcess> _servers = [];
    private int _nextAddress = 10;

    public PostgresTestDatabase Database { get; } = PostgresTestDatabase.Create();

    public HaproxyProcess Balancer { get; private set; } = null!;

    public IReadOnlyList<int> Ports { get; private set; } = [];

    /// <summary>
    /// A fourth instance on the same database, not behind <see cref="Balancer"/>: the one test that kills an instance
    /// kills this one, so the others keep three. Started with the rest, which is quicker than after them.
    /// </summary>
    public ServerProcess Victim { get; private set; } = null!;

    public int VictimPort { get; private set; }

    public async Task InitializeAsync()
    {
        // The balancer's port and the instances' are chosen together, so that none of them is handed out twice.
        var ports = TesseraApp.FreePorts(Instances + 2);
        Ports = ports.Skip(1).Take(Instances).ToList();
        VictimPort = ports[^1];
        var publicUrl = $"http://127.0.0.1:{ports[0]}";
        foreach (var port in Ports)
        {
            Start(port, publicUrl);
        }

        Victim = Start(VictimPort, publicUrl);
        await Task.WhenAll(Ports.Append(VictimPort).Select((port, i) => WaitUntilReadyAsync(_servers[i], port)));
        Balancer = await HaproxyProcess.StartAsync(Ports, ports[0]);
        await WaitUntilBalancedAsync(Balancer);

        // The product's MFA policy asks administrators to enrol a second factor at their first sign-in; these tests
        // sign in to the Back Office as the bootstrap administrator, so the policy is relaxed as an operator would.
        using var admin = await AdminApiAsync();
        var relaxed = await admin.PutAsJsonAsync("/api/v1/mfa-policy", new { required = "none", requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = true });
        Assert.True(relaxed.IsSuccessStatusCode, $"Relaxing the MFA policy: {(int)relaxed.StatusCode} {await relaxed.Content.ReadAsStringAsync()}");
    }

    public async Task DisposeAsync()
    {
        if (Balancer is not null)
        {
            await Balancer.DisposeAsync();
        }

        List<ServerProcess> servers;
        lock (_servers)
        {
            servers = [.. _servers];
        }

        await Task.WhenAll(servers.Select(s => s.DisposeAsync().AsTask()));
        await Database.DisposeAsync();
        try
        {
            _folder.Delete(recursive: true);
        }
        catch (IOException)
        {
            // The temp folder is cleaned by the OS.
        }
    }

    /// <summary>A loopback address no other test of the class has used: a client of its own for the per-address limits.</summary>
    public IPAddress NextClientAddress() => IPAddress.Parse($"127.0.0.{Interlocked.Increment(ref _nextAddress)}");

    /// <summary>A client through the balancer, from an address of its own.</summary>
    public HttpClient ThroughBalancer(bool cookies = false) => HaproxyProcess.ClientFrom(NextClientAddress(), Balancer.Url, cookies);

    /// <summary>A client of the instance at <paramref name="index"/> alone, bypassing the balancer.</summary>
    public HttpClient Direct(int index, IPAddress? from = null) => HaproxyProcess.ClientFrom(from ?? NextClientAddress(), $"http://127.0.0.1:{Ports[index]}");

    /// <summary>The bootstrap API client's bearer token, through the balancer.</summary>
    public async Task<HttpClient> AdminApiAsync(HttpClient? over = null)
    {
        var client = over ?? ThroughBalancer();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Seed.TokenAsync(client, ApiClientId, ApiClientSecret));
        return client;
    }

    /// <summary>Kills <paramref name="server"/> with SIGKILL (<see cref="System.Diagnostics.Process.Kill()"/>, no graceful stop).</summary>
    public async Task KillAsync(ServerProcess server)
    {
        lock (_servers)
        {
            _servers.Remove(server);
        }

        await server.DisposeAsync();
    }

    private ServerProcess Start(int port, string publicUrl)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Tessera__PublicUrl"] = publicUrl,
            ["Tessera__Http__TrustedProxies"] = HaproxyProcess.SourceAddress.ToString(),
            ["Tessera__Database__Provider"] = "postgres",
            ["ConnectionStrings__Tessera"] = Database.ConnectionString,
            ["Tessera__Bootstrap__AdminUsername"] = AdminUsername,
            ["Tessera__Bootstrap__AdminEmail"] = "admin@scaleout.test",
            ["Tessera__Bootstrap__AdminPassword"] = AdminPassword,
            ["Tessera__Bootstrap__ApiClientId"] = ApiClientId,
            ["Tessera__Bootstrap__ApiClientSecret"] = ApiClientSecret,
            ["Tessera__RateLimits__SignIn__PermitLimit"] = SignInPermitLimit.ToString(CultureInfo.InvariantCulture),
            // A long window, so that a slow machine cannot see a window end in the middle of the test.
            ["Tessera__RateLimits__SignIn__WindowSeconds"] = "300",
            ["Tessera__Mail__OutboxPath"] = Path.Combine(_folder.FullName, "outbox"),

            // As the shipped appsettings.json: the framework and EF Core log warnings and errors only.
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Warning",
        };
        var server = ServerProcess.Start(_folder.FullName, environment);
        lock (_servers)
        {
            _servers.Add(server);
        }

        return server;
    }

    public static async Task WaitUntilReadyAsync(ServerProcess server, int port)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await http.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }

            if (server.ExitCode is { } code)
            {
                throw new Xunit.Sdk.XunitException($"The instance on port {port} exited with {code}. Output:\n{server.Output}");
            }

            if (watch.Elapsed > StartTimeout)
            {
                throw new Xunit.Sdk.XunitException($"The instance on port {port} was not ready within {StartTimeout.TotalSeconds:0} s. Output:\n{server.Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the balancer's health checks found every instance up: the answers name each server.</summary>
    public static async Task WaitUntilBalancedAsync(HaproxyProcess balancer)
    {
        using var http = new HttpClient { BaseAddress = new Uri(balancer.Url), Timeout = TimeSpan.FromSeconds(5) };
        var expected = Enumerable.Range(0, balancer.Backends.Count).Select(HaproxyProcess.ServerName).ToHashSet();
        var seen = new HashSet<string>();
        var watch = Stopwatch.StartNew();
        while (!expected.IsSubsetOf(seen))
        {
            seen.Clear();
            for (var i = 0; i < balancer.Backends.Count * 2; i++)
            {
                try
                {
                    using var response = await http.GetAsync("/healthz/live");
                    if (response.Headers.TryGetValues("X-Served-By", out var names))
                    {
                        seen.UnionWith(names);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // not yet
                }
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new Xunit.Sdk.XunitException($"HAProxy did not route to every instance within 20 s (saw {string.Join(", ", seen)}). Its output:\n{balancer.Output}");
            }

            await Task.Delay(100);
        }
    }
}
