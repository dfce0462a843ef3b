using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tessera.Server.Bootstrap;
using Tessera.Server.Storage;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>The real Tessera host over a test database, with known bootstrap credentials.</summary>
public sealed class TesseraApp : WebApplicationFactory<Program>
{
    public const string AdminUsername = "admin";
    public const string AdminPassword = "Admin-Password-1234";
    public const string ApiClientId = "bootstrap-api";
    public const string ApiClientSecret = "Api-Client-Secret-1234";

    /// <summary>A public client of the authorization code flow, and a second one to tell codes apart by client.</summary>
    public const string ConsoleClientId = "backoffice-console";
    public const string ConsoleRedirectUri = "http://127.0.0.1:47999/callback";
    public const string OtherClientId = "other-console";
    public const string OtherRedirectUri = "https://other.example/callback";

    private readonly IReadOnlyDictionary<string, string?> _settings;

    /// <param name="kestrel">Serve on a real loopback port (for peers that call back, like an SSO provider).</param>
    public TesseraApp(TestDatabase database, IReadOnlyDictionary<string, string?>? settings = null, bool kestrel = false)
    {
        Database = database;
        _settings = settings ?? new Dictionary<string, string?>();
        if (kestrel)
        {
            Port = FreePort();
            UseKestrel(Port);
        }
    }

    public TestDatabase Database { get; }

    /// <summary>The loopback port when served by Kestrel, else 0.</summary>
    public int Port { get; }

    public string BaseUrl => Port == 0 ? "http://localhost" : $"http://{(LocalhostName ? "localhost" : "127.0.0.1")}:{Port}";

    /// <summary>
    /// With Kestrel, address the host as localhost rather than 127.0.0.1: browsers refuse WebAuthn on an IP address,
    /// and the relying party id is the host of Tessera:PublicUrl.
    /// </summary>
    public bool LocalhostName { get; init; }

    /// <summary>The clock every part of the host uses (OpenIddict included); tests move it forward.</summary>
    public ShiftableTimeProvider Clock { get; } = new();

    /// <summary>Changes the host's logging, e.g. to capture it (see <see cref="CapturedLogs"/>).</summary>
    public Action<ILoggingBuilder>? Logging { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        var all = new Dictionary<string, string?>
        {
            ["Tessera:Database:Provider"] = Database.Provider,
            ["ConnectionStrings:Tessera"] = Database.ConnectionString,
            ["Tessera:PublicUrl"] = BaseUrl,
            ["Tessera:Bootstrap:AdminUsername"] = AdminUsername,
            ["Tessera:Bootstrap:AdminEmail"] = "admin@tessera.test",
            ["Tessera:Bootstrap:AdminPassword"] = AdminPassword,
            ["Tessera:Bootstrap:ApiClientId"] = ApiClientId,
            ["Tessera:Bootstrap:ApiClientSecret"] = ApiClientSecret,
            ["Tessera:Mail:OutboxPath"] = Path.Combine(Path.GetTempPath(), "tessera-test-outbox"),
            ["Tessera:Tokens:Clients:0:ClientId"] = ConsoleClientId,
            ["Tessera:Tokens:Clients:0:RedirectUris:0"] = ConsoleRedirectUri,
            ["Tessera:Tokens:Clients:0:RedirectUris:1"] = "com.example.console:/callback",
            ["Tessera:Tokens:Clients:1:ClientId"] = OtherClientId,
            ["Tessera:Tokens:Clients:1:RedirectUris:0"] = OtherRedirectUri,
        };
        foreach (var (key, value) in _settings)
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            builder.UseSetting(key, value);
        }

        if (Logging is not null)
        {
            builder.ConfigureLogging(Logging);
        }

        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Clock));
    }

    /// <summary>
    /// Tests inspect the database right after the start, so the host counts as started once the
    /// bootstrap (which runs beside the start, behind the bootstrap gate) has finished.
    /// </summary>
    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        host.Services.GetRequiredService<BootstrapGate>().Completion.GetAwaiter().GetResult();
        if (!ProductMfaPolicy && ApiReachable)
        {
            RelaxMfaPolicyAsync(host).GetAwaiter().GetResult();
        }

        return host;
    }

    /// <summary>
    /// Keep the product's MFA policy (`privileged`: administrators must enrol a second factor at their first sign-in).
    /// Off by default: most tests sign in to the Back Office as the bootstrap administrator to test something else,
    /// so the host sets the policy to `none` after its start, through the real API as the bootstrap API client,
    /// exactly as an operator could. MFA tests keep the default.
    /// </summary>
    public bool ProductMfaPolicy { get; init; }

    /// <summary>
    /// Whether the test can reach the API as the bootstrap client: the client is configured, and the host takes
    /// plain-HTTP token requests (an http PublicUrl), or https ones from a trusted proxy (X-Forwarded-Proto). A host
    /// without that, which refuses such requests, keeps the product policy; the tests of such hosts do not sign in
    /// to the Back Office.
    /// </summary>
    private bool ApiReachable
        => !(_settings.TryGetValue("Tessera:Bootstrap:ApiClientId", out var client) && string.IsNullOrEmpty(client))
            && (!Https || (Port != 0 && _settings.TryGetValue(Tessera.Server.Http.TrustedProxies.Setting, out var proxies) && !string.IsNullOrEmpty(proxies)));

    private bool Https => _settings.TryGetValue("Tessera:PublicUrl", out var url) && url?.StartsWith("https:", StringComparison.OrdinalIgnoreCase) == true;

    private async Task RelaxMfaPolicyAsync(IHost host)
    {
        // A restart on the same database finds the policy relaxed already (and the client's secret may have changed since).
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var stored = await Tessera.Server.Mfa.MfaPolicyService.GetAsync(scope.ServiceProvider.GetRequiredService<TesseraDbContext>(), CancellationToken.None);
            if (stored.Required == Tessera.Core.Credentials.MfaRequirement.None)
            {
                return;
            }
        }

        var secret = _settings.TryGetValue("Tessera:Bootstrap:ApiClientSecret", out var configured) && !string.IsNullOrEmpty(configured) ? configured : ApiClientSecret;
        using var client = Port == 0 ? host.GetTestServer().CreateClient() : new HttpClient { BaseAddress = new Uri(BaseUrl) };
        if (Https)
        {
            // As the trusted TLS-terminating proxy in front of the host would say.
            client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        }

        var token = await Seed.TokenAsync(client, ApiClientId, secret);
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/v1/mfa-policy")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { required = "none", requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = true }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Setting the test MFA policy failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Starts the host now, so that start-up errors surface where the test begins.</summary>
    public TesseraApp Started()
    {
        if (Port == 0)
        {
            _ = Server;
        }
        else
        {
            StartServer();
        }

        return this;
    }

    /// <summary>A client of the host; with Kestrel, a real HTTP client on loopback.</summary>
    public HttpClient Client(bool cookies = false, bool redirects = false)
    {
        if (Port == 0)
        {
            return CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = cookies, AllowAutoRedirect = redirects, BaseAddress = new Uri(BaseUrl) });
        }

        var handler = new HttpClientHandler { AllowAutoRedirect = redirects, UseCookies = cookies, CookieContainer = new CookieContainer() };
        return new HttpClient(handler) { BaseAddress = new Uri(BaseUrl) };
    }

    /// <summary>A fresh scope's DbContext, for tests that inspect or arrange stored state directly.</summary>
    public AsyncServiceScope Scope(out TesseraDbContext db)
    {
        var scope = Services.CreateAsyncScope();
        db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        return scope;
    }

    /// <summary>Waits until the audit events of token issuance queued so far are written (they are written in batches).</summary>
    public Task AuditWrittenAsync() => Services.GetRequiredService<Tessera.Server.Audit.AuditBatchWriter>().FlushAsync();

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// <paramref name="count"/> distinct free ports. Each listener stays open until all are chosen: one port closed and
    /// asked for again at once may come back, and two servers given one port leave the second unable to bind while
    /// the first answers for both.
    /// </summary>
    public static IReadOnlyList<int> FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }
}

/// <summary>The system clock, plus an offset that tests move forward to expire tokens and lockouts.</summary>
public sealed class ShiftableTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}

/// <summary>One host and database per test class, per provider.</summary>
public abstract class HostFixture(string provider) : IAsyncLifetime
{
    public TesseraApp App { get; private set; } = null!;

    public string Provider => provider;

    protected virtual IReadOnlyDictionary<string, string?>? Settings => null;

    /// <summary>True for hosts that keep the product's MFA policy (see <see cref="TesseraApp.ProductMfaPolicy"/>).</summary>
    protected virtual bool ProductMfaPolicy => false;

    public Task InitializeAsync()
    {
        App = new TesseraApp(TestDatabase.Create(provider), Settings) { ProductMfaPolicy = ProductMfaPolicy }.Started();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
    }
}

public sealed class SqliteHost() : HostFixture("sqlite");

public sealed class PostgresHost() : HostFixture("postgres");
