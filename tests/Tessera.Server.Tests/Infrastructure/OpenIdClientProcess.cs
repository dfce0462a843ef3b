using System.Globalization;
using System.Text.Json;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A standard OAuth 2.0 client library (panva/openid-client, tests/support/openid-client) asking for a token with the
/// client credentials grant and scope <c>api</c>: it discovers the issuer, authenticates as the library does, and
/// answers with the token response. One node process per token request.
/// </summary>
public static class OpenIdClientProcess
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    /// <summary>client_secret_basic (<paramref name="basic"/>) or client_secret_post with this secret.</summary>
    public static Task<OpenIdClientResult> SecretAsync(string issuer, string clientId, string secret, bool basic)
        => RunAsync(issuer, clientId, basic ? "client_secret_basic" : "client_secret_post", keyFile: null,
            // The secret goes by the environment: arguments show in any process listing.
            new Dictionary<string, string> { ["CLIENT_SECRET"] = secret });

    /// <summary>
    /// private_key_jwt with the private JWK in <paramref name="privateJwkFile"/>: RS256 for an RSA key, ES256 for an
    /// EC P-256 key; the JWK's <c>kid</c>, when it has one, goes into the assertion's header.
    /// </summary>
    public static Task<OpenIdClientResult> PrivateKeyJwtAsync(string issuer, string clientId, string privateJwkFile)
        => RunAsync(issuer, clientId, "private_key_jwt", privateJwkFile, environment: null);

    private static async Task<OpenIdClientResult> RunAsync(string issuer, string clientId, string method, string? keyFile,
        IReadOnlyDictionary<string, string>? environment)
    {
        var directory = NodePeer.PeerDirectory("openid-client", "openid-client");
        List<string> arguments = [issuer, clientId, method];
        if (keyFile is not null)
        {
            arguments.Add(keyFile);
        }

        var run = await NodePeer.RunAsync("openid-client", directory, "client.mjs", arguments, environment, RunTimeout);
        var line = run.Stdout.Trim();
        JsonElement json;
        try
        {
            json = JsonDocument.Parse(line).RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not the one JSON line the script promises: show what it printed on stderr, never stdout (a token).
            throw new InvalidOperationException(
                $"openid-client ({method}) exited with {run.ExitCode.ToString(CultureInfo.InvariantCulture)} without a JSON line on stdout. Its stderr:\n{run.Output}");
        }

        return new OpenIdClientResult(method, run.ExitCode, json, run.Output);
    }
}

/// <summary>
/// What openid-client answered: the token response (exit code 0), or an error object (exit code 1) with the error's
/// name, message and, for an HTTP error answer, its status and OAuth error. <see cref="ToString"/> never shows a token.
/// </summary>
public sealed record OpenIdClientResult(string Method, int ExitCode, JsonElement Json, string Stderr)
{
    public bool Succeeded => ExitCode == 0 && Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("access_token", out _);

    public string AccessToken => Succeeded
        ? Json.GetProperty("access_token").GetString()!
        : throw new InvalidOperationException($"No token: {this}");

    /// <summary>The HTTP status of a refused request, when there was an answer.</summary>
    public int? Status => !Succeeded && Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number
        ? s.GetInt32()
        : null;

    /// <summary>The OAuth <c>error</c> of a refused request (e.g. invalid_client), when the answer named one.</summary>
    public string? OAuthError => !Succeeded && Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("oauth_error", out var e) ? e.GetString() : null;

    public override string ToString()
    {
        var exit = ExitCode.ToString(CultureInfo.InvariantCulture);
        if (Succeeded)
        {
            var type = Json.TryGetProperty("token_type", out var t) ? t.GetString() : "?";
            return $"openid-client {Method}: exit {exit}, a {type} token";
        }

        // An error object carries no secret or token: show it whole, with the library's diagnostics.
        return $"openid-client {Method}: exit {exit}, {Json.GetRawText()}" + (Stderr.Length > 0 ? $"\nstderr:\n{Stderr}" : "");
    }
}
