using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Server.ApiCredentials;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.Observability;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>
/// The client-credentials token of a client that has just had one, answered without OpenIddict's request pipeline.
/// It serves only the plain case that changes nothing but the audit log: <c>client_secret_post</c> with
/// <c>grant_type</c>, <c>client_id</c>, <c>client_secret</c> and at most the scope <c>api</c>; an active API user whose row
/// and credentials this instance read since the directory last changed (<see cref="CallerDirectory.Generation"/>,
/// cleared on every instance by a change on any, bounded by <c>Tessera:Tokens:CallerCacheSeconds</c>); a secret
/// that matches as the full path would match it (a generated secret's SHA-256, or a chosen secret that
/// <see cref="ClientSecretCache"/> remembers as verified against its PBKDF2 hash); a (client, address) pair that the
/// throttle does not hold; and no use, sign-in time or standing due to be written. Anything else, a first request
/// included, goes on to OpenIddict as if this did not exist, with the body it sent.
/// <para>
/// What it keeps of the full path: the <c>token.client_credentials</c> audit event (batched, as the full path batches a
/// repeat token's event), the throttle's reset, the metrics, and the same access token, signed with the server's first
/// signing key and holding the same claims (a test compares them claim by claim). Validation of the token is the
/// same as for any other.
/// </para>
/// </summary>
public sealed class RepeatClientTokens
{
    private const int MaxBody = 4096;
    private static readonly PathString TokenPath = new("/connect/token");
    private static readonly string[] Fields = ["grant_type", "client_id", "client_secret", "scope"];
    private static readonly Dictionary<string, object> AccessTokenHeader = new() { [JwtHeaderParameterNames.Typ] = "at+jwt" };

    private readonly ConcurrentDictionary<string, Client> _clients = new(StringComparer.Ordinal);
    private readonly IServiceScopeFactory scopes;
    private readonly CallerDirectory callers;
    private readonly ClientSecretCache remembered;
    private readonly ClientThrottle throttle;
    private readonly AuditBatchWriter audit;
    private readonly IOptionsMonitor<OpenIddictServerOptions> server;
    private readonly IOptions<TokenOptions> tokens;
    private readonly TesseraMetrics metrics;
    private readonly TimeProvider clock;
    private readonly JsonWebTokenHandler handler = new() { SetDefaultTimesOnTokenCreation = false };
    private long _served;

    public RepeatClientTokens(IServiceScopeFactory scopes, CallerDirectory callers, ClientSecretCache remembered, ClientThrottle throttle,
        AuditBatchWriter audit, IOptionsMonitor<OpenIddictServerOptions> server, IOptions<TokenOptions> tokens, TesseraMetrics metrics, TimeProvider clock)
    {
        this.scopes = scopes;
        this.callers = callers;
        this.remembered = remembered;
        this.throttle = throttle;
        this.audit = audit;
        this.server = server;
        this.tokens = tokens;
        this.metrics = metrics;
        this.clock = clock;
    }

    /// <summary>How many tokens this path has answered (tests: that it answered at all).</summary>
    internal long Served => Interlocked.Read(ref _served);

    /// <summary>What the path needs of an API user, as read from its row and its secrets.</summary>
    private sealed record Client(Guid Id, string Username, string SecurityStamp, long Generation, DateTime ReadAt, DateTime? LastSignInAt,
        IReadOnlyList<Secret> Secrets);

    private sealed record Secret(Guid Id, string Hash, bool Generated, DateTime? ExpiresAt, DateTime? LastUsedAt, string AuditDetails);

    /// <summary>Answers the request and returns true, or returns false having changed nothing but a body that reads the same.</summary>
    public async Task<bool> TryAnswerAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method) || !request.Path.Equals(TokenPath, StringComparison.OrdinalIgnoreCase)
            || request.ContentLength is not (> 0 and <= MaxBody) || !IsUtf8Form(request.ContentType) || request.Headers.Authorization.Count > 0)
        {
            return false;
        }

        var form = await ReadAsync(request, (int)request.ContentLength.Value, context.RequestAborted);
        if (form is null || !IsPlain(form, out var clientId, out var secret, out var scoped))
        {
            return false;
        }

        var login = clientId.Trim();
        var now = clock.GetUtcNow().UtcDateTime;
        var key = ClientThrottle.Key(clientId, context.Connection.RemoteIpAddress);
        if (login.Length == 0 || throttle.BlockedFor(key) is not null)
        {
            return false;
        }

        var normalized = Usernames.Normalize(login);
        var client = await ClientAsync(login, normalized, now, context.RequestAborted);
        var match = client is null ? null : Matching(client, secret);
        if (client is null)
        {
            return false;
        }

        if (match is null || ApiCredentialRules.IsExpired(match.ExpiresAt, now)
            || ApiCredentialRules.ShouldRecordUse(match.LastUsedAt, now) || UseStamp.IsDue(client.LastSignInAt, now))
        {
            // The full path verifies, refuses or writes the use (a rehash, say, or the time of use); the next request reads the row again.
            _clients.TryRemove(normalized, out _);
            return false;
        }

        var caller = await callers.GetAsync(client.Id, context.RequestAborted);
        if (caller is null || caller.SecurityStamp != client.SecurityStamp || caller.Type != UserType.Api || !caller.MayAct(now)
            || caller.Status != UserStatus.Active)
        {
            return false;
        }

        var entry = AuditLog.Event(now, ClientAuthentication.SuccessAction, "user", client.Id.ToString(), client.Username, match.AuditDetails,
            "success", AuditLog.ActorOf(context, client.Id, client.Username));
        if (!audit.TryQueue(entry))
        {
            // Back-pressure: the full path writes the event in its own transaction.
            return false;
        }

        throttle.Succeeded(key);
        await WriteAsync(context, caller, clientId, scoped, now);
        metrics.TokenIssued("client_credentials");
        Interlocked.Increment(ref _served);
        return true;
    }

    /// <summary>A URL-encoded form read as UTF-8, as the full path reads it; another charset is the full path's to decode.</summary>
    private static bool IsUtf8Form(string? contentType)
        => Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var type)
           && type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
           && (type.Charset.Length == 0 || type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>The form, read whole; the request keeps a body that reads the same for whatever comes next.</summary>
    private static async Task<Dictionary<string, Microsoft.Extensions.Primitives.StringValues>?> ReadAsync(HttpRequest request, int length, CancellationToken ct)
    {
        var bytes = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await request.Body.ReadAsync(bytes.AsMemory(read), ct);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        request.Body = new MemoryStream(bytes, 0, read, writable: false);
        if (read != length)
        {
            return null;
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        try
        {
            return new FormReader(text).ReadForm();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>Exactly the plain client-credentials request, every field once and clean; anything else is the full path's.</summary>
    private static bool IsPlain(Dictionary<string, Microsoft.Extensions.Primitives.StringValues> form, out string clientId, out string secret, out bool scoped)
    {
        clientId = secret = "";
        scoped = false;
        if (form.Count is < 3 or > 4)
        {
            return false;
        }

        foreach (var (name, values) in form)
        {
            if (Array.IndexOf(Fields, name) < 0 || values.Count != 1 || values[0] is not { } value
                || StrictRequests.HasControlCharacter(value) || StrictRequests.HasLoneSurrogate(value))
            {
                return false;
            }
        }

        if (form["grant_type"] != "client_credentials" || string.IsNullOrEmpty(form["client_id"]) || string.IsNullOrEmpty(form["client_secret"]))
        {
            return false;
        }

        if (form.TryGetValue("scope", out var scope))
        {
            if (scope != TokenServer.ApiScope)
            {
                return false;
            }

            scoped = true;
        }

        clientId = form["client_id"]!;
        secret = form["client_secret"]!;
        return true;
    }

    /// <summary>The client as read since the directory last changed, else read now (and kept when nothing changed meanwhile).</summary>
    private async Task<Client?> ClientAsync(string login, string normalized, DateTime now, CancellationToken ct)
    {
        var generation = callers.Generation;
        if (_clients.TryGetValue(normalized, out var known) && known.Generation == generation
            && now - known.ReadAt < TimeSpan.FromSeconds(tokens.Value.CallerCacheSeconds) && known.ReadAt <= now)
        {
            return known;
        }

        if (tokens.Value.CallerCacheSeconds <= 0)
        {
            return null;
        }

        await using var scope = scopes.CreateAsyncScope();
        var clients = scope.ServiceProvider.GetRequiredService<ClientAuthentication>();
        var (user, _) = await clients.ClientAsync(login, ct);
        if (user is null || user.Status != UserStatus.Active || user.LockedUntil is not null || user.FailedSignInCount != 0)
        {
            _clients.TryRemove(normalized, out _);
            return null;
        }

        var secrets = (await clients.CredentialsAsync(user.Id, ApiCredentialType.Secret, ct))
            .Where(c => c.SecretHash is not null)
            .Select(c => new Secret(c.Id, c.SecretHash!, ApiSecrets.IsGenerated(c.SecretHash), c.ExpiresAt, c.LastUsedAt,
                JsonSerializer.Serialize(new { method = ClientAuthentication.SecretMethod, credential = c.Name, credentialId = c.Id }, JsonSerializerOptions.Web)))
            .ToList();
        var client = new Client(user.Id, user.Username, user.SecurityStamp, generation, now, user.LastSignInAt, secrets);
        if (_clients.Count >= ClientSecretCache.Capacity)
        {
            _clients.Clear();
        }

        if (callers.Generation == generation)
        {
            _clients[normalized] = client;
        }

        return client;
    }

    /// <summary>The secret the client presented, if it is one of its secrets as the full path would judge it, without PBKDF2.</summary>
    private Secret? Matching(Client client, string presented)
    {
        string? digest = null;
        foreach (var secret in client.Secrets)
        {
            if (secret.Generated)
            {
                digest ??= ApiSecrets.Hash(presented);
                if (ApiSecrets.Matches(secret.Hash, digest))
                {
                    return secret;
                }
            }
            else if (remembered.Matches(secret.Id, client.SecurityStamp, secret.Hash, presented))
            {
                return secret;
            }
        }

        return null;
    }

    /// <summary>The access token and the answer, as OpenIddict writes them (RFC 6749 §5.1).</summary>
    private async Task WriteAsync(HttpContext context, CallerState caller, string clientId, bool scoped, DateTime now)
    {
        var options = server.CurrentValue;
        var lifetime = options.AccessTokenLifetime ?? TimeSpan.FromMinutes(tokens.Value.AccessTokenMinutes);
        var issuedAt = new DateTimeOffset(now).ToUnixTimeSeconds();
        var expiresIn = (long)lifetime.TotalSeconds;

        var payload = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString("iss", options.Issuer!.AbsoluteUri);
            json.WriteNumber("exp", issuedAt + expiresIn);
            json.WriteNumber("iat", issuedAt);
            json.WriteString("aud", tokens.Value.Audience);
            if (scoped)
            {
                json.WriteString("scope", TokenServer.ApiScope);
            }

            json.WriteString("jti", Guid.NewGuid().ToString());
            json.WriteString(TesseraClaims.Subject, caller.Id.ToString());
            json.WriteString(TesseraClaims.Username, caller.Username);
            json.WriteString(TesseraClaims.UserType, caller.Type.ToWire());
            json.WriteString(TesseraClaims.Stamp, caller.StampDigest);
            WriteClaim(json, TesseraClaims.Role, caller.Roles);
            WriteClaim(json, TesseraClaims.Privilege, [.. caller.Privileges.Order(StringComparer.Ordinal)]);
            json.WriteString("oi_prst", clientId);
            json.WriteString("client_id", clientId);
            json.WriteEndObject();
        }

        var token = handler.CreateToken(Encoding.UTF8.GetString(payload.WrittenSpan), options.SigningCredentials[0], AccessTokenHeader);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json;charset=UTF-8";
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "Thu, 01 Jan 1970 00:00:00 GMT";
        var body = new ArrayBufferWriter<byte>(token.Length + 64);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("access_token", token);
            json.WriteString("token_type", "Bearer");
            json.WriteNumber("expires_in", expiresIn);
            json.WriteEndObject();
        }

        response.ContentLength = body.WrittenCount;
        await response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted);
    }

    /// <summary>A claim of several values: absent when none, a string when one, an array when more (as a JWT handler writes a claims identity).</summary>
    private static void WriteClaim(Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        if (values.Count == 1)
        {
            json.WriteString(name, values[0]);
        }
        else if (values.Count > 1)
        {
            json.WriteStartArray(name);
            foreach (var value in values)
            {
                json.WriteStringValue(value);
            }

            json.WriteEndArray();
        }
    }
}

public static class RepeatClientTokensSetup
{
    /// <summary>Before authentication, where OpenIddict answers the token endpoint: a plain repeat request is answered here.</summary>
    public static IApplicationBuilder UseRepeatClientTokens(this IApplicationBuilder app)
    {
        var tokens = app.ApplicationServices.GetRequiredService<RepeatClientTokens>();
        return app.Use(async (context, next) =>
        {
            if (!await tokens.TryAnswerAsync(context))
            {
                await next(context);
            }
        });
    }
}
