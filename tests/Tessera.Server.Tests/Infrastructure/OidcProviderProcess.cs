using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A real OpenID Connect provider (panva/oidc-provider, tests/support/oidc-provider) on a free
/// loopback port over plain http: discovery, JWKS, authorization code with PKCE (S256).
/// An authorization request with <c>login_hint=&lt;sub or email&gt;</c> of a configured account signs
/// that account in and consents to <c>openid email profile</c> without any page, so an HttpClient
/// that follows redirects (with a cookie container) goes from the relying party's challenge straight
/// back to its callback. The id_token carries email, email_verified, name, given_name, family_name.
/// The relying party must set <c>RequireHttpsMetadata = false</c>, and <c>ResponseMode = "query"</c>
/// unless the test submits the form_post page itself.
/// </summary>
public sealed class OidcProviderProcess : IAsyncDisposable
{
    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private readonly NodePeer _peer;
    private readonly string _configPath;

    private OidcProviderProcess(NodePeer peer, string configPath, string authority)
    {
        _peer = peer;
        _configPath = configPath;
        Authority = authority;
    }

    /// <summary>The issuer, e.g. <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public string Authority { get; }

    public string DiscoveryUrl => Authority + "/.well-known/openid-configuration";

    /// <summary>What the provider printed so far (stdout and stderr), for failure messages.</summary>
    public string Output => _peer.Output;

    public static async Task<OidcProviderProcess> StartAsync(OidcProviderConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var directory = NodePeer.PeerDirectory("oidc-provider", "oidc-provider");
        var configPath = Path.Combine(Path.GetTempPath(), $"tessera-oidc-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(config, ConfigJson));
        try
        {
            // Port 0: the provider binds a free port itself and names it in its READY line.
            var peer = await NodePeer.StartAsync("oidc-provider", directory, ["0", configPath]);
            var authority = peer.ReadyLine["READY ".Length..].Trim();
            return new OidcProviderProcess(peer, configPath, authority);
        }
        catch
        {
            File.Delete(configPath);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _peer.DisposeAsync();
        File.Delete(_configPath);
    }
}

/// <param name="Clients">Confidential clients (authorization code; PKCE accepted, not required).</param>
/// <param name="Accounts">Accounts that can sign in, by <c>login_hint</c> (sub or email) or the login form.</param>
public sealed record OidcProviderConfig(IReadOnlyList<OidcClient> Clients, IReadOnlyList<OidcAccount> Accounts);

/// <param name="TokenEndpointAuthMethod">
/// <c>client_secret_basic</c> or <c>client_secret_post</c>; the provider accepts either way of
/// sending the secret whichever is registered (ASP.NET Core's handler posts it in the body).
/// </param>
public sealed record OidcClient(
    string ClientId,
    string ClientSecret,
    IReadOnlyList<string> RedirectUris,
    string TokenEndpointAuthMethod = "client_secret_basic");

/// <summary>An account at the provider; its <c>name</c> claim is "GivenName FamilyName".</summary>
public sealed record OidcAccount(string Sub, string Email, bool EmailVerified, string GivenName, string FamilyName);

/// <summary>
/// A node program from tests/support/NAME started as a child process: a server (<see cref="StartAsync"/>) waits for
/// its one <c>READY ...</c> line on stdout, a one-shot program (<see cref="RunAsync"/>) for its exit; both keep what
/// it prints for failure messages. Shared by <see cref="OidcProviderProcess"/>, <see cref="SmtpSinkProcess"/> and
/// <see cref="OpenIdClientProcess"/>.
/// </summary>
internal sealed class NodePeer : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _name;
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _result = new();
    private readonly bool _stdoutIsResult;
    private int _disposed;

    private NodePeer(string name, Process process, bool stdoutIsResult)
    {
        _name = name;
        _process = process;
        _stdoutIsResult = stdoutIsResult;
    }

    public string ReadyLine => _ready.Task.IsCompletedSuccessfully
        ? _ready.Task.Result
        : throw new InvalidOperationException($"{_name} has not started.");

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

    /// <summary>tests/support/<paramref name="name"/>, once its node_modules holds <paramref name="package"/>.</summary>
    public static string PeerDirectory(string name, string package)
    {
        var directory = Path.Combine(ServerProcess.RepositoryRoot, "tests", "support", name);
        if (!File.Exists(Path.Combine(directory, "node_modules", package, "package.json")))
        {
            throw new InvalidOperationException(
                $"{Path.Combine(directory, "node_modules")} is missing or incomplete: run npm ci in tests/support/{name} " +
                "(test.sh does this, through tests/support/install.sh).");
        }

        return directory;
    }

    /// <param name="environment">What must not appear in a process listing, such as a secret.</param>
    public static async Task<NodePeer> StartAsync(string name, string directory, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var peer = Launch(name, directory, "server.js", arguments, environment, stdoutIsResult: false);
        var process = peer._process;
        using var timeout = new CancellationTokenSource(StartTimeout);
        var exited = process.WaitForExitAsync(timeout.Token);
        var first = await Task.WhenAny(peer._ready.Task, exited);
        if (first == peer._ready.Task)
        {
            return peer;
        }

        var reason = exited.IsCanceled
            ? $"did not print its READY line within {StartTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s"
            : $"exited with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)} before it was ready";
        await peer.DisposeAsync();
        throw new InvalidOperationException($"tests/support/{name}/server.js {reason}. Its output:\n{peer.Output}");
    }

    /// <summary>
    /// Runs tests/support/<paramref name="name"/>/<paramref name="script"/> to its end. Its stdout is the result and is
    /// kept apart from <see cref="NodeRun.Output"/> (stderr only), so a failure message never repeats a token it printed.
    /// <paramref name="environment"/> carries what must not appear in a process listing, such as a secret.
    /// </summary>
    public static async Task<NodeRun> RunAsync(string name, string directory, string script, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        await using var peer = Launch(name, directory, script, arguments, environment, stdoutIsResult: true);
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await peer._process.WaitForExitAsync(limit.Token);
            // The parameterless wait also waits until the last line of stdout and stderr has been handed over.
            peer._process.WaitForExit();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException(
                $"tests/support/{name}/{script} did not finish within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s. Its stderr:\n{peer.Output}");
        }

        string result;
        lock (peer._result)
        {
            result = peer._result.ToString();
        }

        return new NodeRun(peer._process.ExitCode, result, peer.Output);
    }

    private static NodePeer Launch(string name, string directory, string script, IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string>? environment, bool stdoutIsResult)
    {
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The server exits by itself when this process goes away and the stdin pipe closes.
        info.Environment["EXIT_WITH_STDIN"] = "1";
        info.Environment.Remove("NODE_OPTIONS");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var peer = new NodePeer(name, process, stdoutIsResult);
        process.OutputDataReceived += (_, e) => peer.Record(e.Data, fromStdout: true);
        process.ErrorDataReceived += (_, e) => peer.Record(e.Data, fromStdout: false);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start node for tests/support/{name}: node 20 or later must be on PATH.", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>Kills the process (and its children) and waits for it to go.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
        catch (OperationCanceledException)
        {
            // Killed but slow to be reaped: nothing more to do.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Record(string? line, bool fromStdout)
    {
        if (line is null)
        {
            return;
        }

        if (fromStdout && _stdoutIsResult)
        {
            lock (_result)
            {
                _result.AppendLine(line);
            }

            return;
        }

        lock (_output)
        {
            _output.Append(fromStdout ? "[out] " : "[err] ").AppendLine(line);
        }

        if (fromStdout && line.StartsWith("READY ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line);
        }
    }
}

/// <summary>How a one-shot node program ended: its exit code, its stdout (the result) and its stderr.</summary>
internal sealed record NodeRun(int ExitCode, string Stdout, string Output);
