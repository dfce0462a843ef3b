using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using Tessera.Server.Storage;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Tessera.Server.ApiCredentials;

/// <summary>
/// private_key_jwt client authentication (RFC 7523, OpenID Connect Core §9). OpenIddict validates the assertion
/// (signature, expiry, iss = sub = client_id, an audience it recognises) with the keys <see cref="ResolveKeys"/> hands
/// it; Tessera then applies what OpenIddict leaves open or checks more loosely (<see cref="Refusal"/>): the exact
/// assertion type, an audience that is Tessera's public address and not merely the request's Host, a short
/// lifetime, and a jti used once.
/// </summary>
public static class ClientAssertions
{
    /// <summary>A longer jti is refused: an identifier for replay detection, not a payload.</summary>
    public const int MaxJtiLength = 200;

    public const string JwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// <summary>The token endpoint, relative to the issuer: with it, one of the two audiences an assertion may name.</summary>
    public const string TokenEndpointPath = "connect/token";

    /// <summary>An assertion may be valid for at most this long from now: its jti is kept until it expires.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far the client's clock may be off from Tessera's: an exp up to this much past or beyond
    /// <see cref="MaxLifetime"/>, and an nbf or iat up to this much in the future, are taken.
    /// </summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    private static readonly HashSet<string> AcceptedTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "JWT", "client-authentication+jwt", "application/client-authentication+jwt",
    };

    /// <summary>The transaction property under which <see cref="ResolveKeys"/> leaves the <see cref="AssertionClient"/>.</summary>
    public const string ClientProperty = "tessera:assertion_client";

    /// <summary>
    /// The <c>iss</c> of an assertion, read without checking anything: only to know whose keys to try (and which
    /// client the throttle counts). Null when the text is no JWT.
    /// </summary>
    public static string? UnverifiedIssuer(string? assertion)
    {
        if (string.IsNullOrEmpty(assertion))
        {
            return null;
        }

        try
        {
            return new JsonWebToken(assertion).Issuer;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// What Tessera requires of an assertion OpenIddict has verified; null when it passes, else the reason for the
    /// audit log. <paramref name="issuer"/> is <c>Tessera:PublicUrl</c>.
    /// </summary>
    public static string? Refusal(ClaimsPrincipal assertion, string? assertionType, string issuer, DateTimeOffset now, out string jti, out DateTime expiresAt)
    {
        jti = assertion.GetClaim(Claims.JwtId) ?? "";
        expiresAt = default;
        if (!string.Equals(assertionType, JwtBearer, StringComparison.Ordinal))
        {
            return "assertion_type";
        }

        // The issuer or the token endpoint under Tessera's public address. OpenIddict compares only the path, and
        // also takes the address the request's Host header names: an assertion made for another server must not do here.
        var root = issuer.TrimEnd('/');
        if (!assertion.GetClaims(Claims.Audience).Any(a => a is not null
            && (string.Equals(a.TrimEnd('/'), root, StringComparison.OrdinalIgnoreCase)
                || string.Equals(a, root + "/" + TokenEndpointPath, StringComparison.OrdinalIgnoreCase))))
        {
            return "assertion_audience";
        }

        if (assertion.GetExpirationDate() is not { } exp || exp <= now - ClockSkew || exp > now + MaxLifetime + ClockSkew)
        {
            return "assertion_lifetime";
        }

        foreach (var notAfterNow in new[] { Claims.NotBefore, Claims.IssuedAt })
        {
            if (assertion.GetClaim(notAfterNow) is { } value
                && (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
                    || seconds > (now + ClockSkew).ToUnixTimeSeconds()))
            {
                return "assertion_lifetime";
            }
        }

        if (jti.Length == 0 || jti.Length > MaxJtiLength)
        {
            return "assertion_jti";
        }

        expiresAt = exp.UtcDateTime;
        return null;
    }

    /// <summary>
    /// The degraded mode's part of client assertion validation, as OpenIddict asks of it: the keys of the client the
    /// assertion names. Runs right after OpenIddict has made the validation parameters of an assertion (which check
    /// neither issuer, audience nor lifetime: OpenIddict does that itself afterwards), and gives them the client's
    /// registered public keys, expired ones included (an expired key fails later, but is told apart in the audit
    /// log), and only the algorithms of such keys: <c>none</c> and HMAC (keyed, say, with the public key's bytes)
    /// never verify.
    /// </summary>
    public sealed class ResolveKeys(ClientAuthentication clients) : IOpenIddictServerHandler<ValidateTokenContext>
    {
        public static int Order => OpenIddictServerHandlers.Protection.ResolveTokenValidationParameters.Descriptor.Order + 500;

        public async ValueTask HandleAsync(ValidateTokenContext context)
        {
            if (context.ValidTokenTypes.Count != 1 || !context.ValidTokenTypes.Contains(TokenTypeIdentifiers.Private.ClientAssertion)
                || context.TokenValidationParameters is not { } parameters)
            {
                return;
            }
            // OpenIddict 7 takes the issuer alone as the audience (draft-ietf-oauth-rfc7523bis); OpenID Connect Core §9
            // names the token endpoint, which many clients send. Both under Tessera:PublicUrl, never the request's Host.
            if (context.Options.Issuer is { } issuerUri)
            {
                context.ValidAudiences.Add(new Uri(issuerUri, TokenEndpointPath).AbsoluteUri);
            }

            var client = new AssertionClient();
            context.Transaction.Properties[ClientProperty] = client;
            parameters.ValidAlgorithms = PublicKeys.Algorithms;
            parameters.IssuerSigningKeys = [];
            parameters.RequireSignedTokens = true;
            parameters.TryAllIssuerSigningKeys = true;

            // OpenIddict 7 takes only the explicit type of draft-ietf-oauth-rfc7523bis (client-authentication+jwt);
            // RFC 7523 requires none, and the clients in use send none (openid-client) or "JWT" (Microsoft's
            // libraries). The draft's reason, an assertion made for another server, is met by Tessera's strict
            // audience rule (Refusal); a JWT typed for anything else (at+jwt, say) is still refused.
            parameters.TypeValidator = static (type, _, _) => string.IsNullOrEmpty(type) || AcceptedTypes.Contains(type)
                // Reported as the explicit type, the one OpenIddict maps to a client assertion.
                ? "client-authentication+jwt"
                : throw new SecurityTokenInvalidTypeException("A client assertion is typed JWT, client-authentication+jwt, or not at all.") { InvalidType = type };

            var issuer = UnverifiedIssuer(context.Token);
            if (issuer is null)
            {
                client.Reason = "invalid_assertion";
                return;
            }

            client.ClientId = issuer;
            var (user, reason) = await clients.ClientAsync(issuer, context.CancellationToken);
            if (user is null)
            {
                client.Reason = reason;
                return;
            }

            client.User = user;
            var keys = await clients.CredentialsAsync(user.Id, Core.Credentials.ApiCredentialType.PublicKey, context.CancellationToken);
            if (keys.Count == 0)
            {
                client.Reason = "no_credential";
                return;
            }

            var byKey = new Dictionary<SecurityKey, ApiCredential>(ReferenceEqualityComparer.Instance);
            foreach (var credential in keys.Where(k => k.PublicKeyJwk is not null))
            {
                byKey[PublicKeys.ToSecurityKey(credential.PublicKeyJwk!)] = credential;
            }

            parameters.IssuerSigningKeys = byKey.Keys;

            // Called with the key whose signature check passed: that credential is the one used (its lastUsedAt, its expiry).
            parameters.ValidateIssuerSigningKey = true;
            parameters.IssuerSigningKeyValidator = (key, _, _) =>
            {
                client.VerifiedBy = byKey.GetValueOrDefault(key);
                if (client.VerifiedBy is not null)
                {
                    // Signed by a registered key: a refusal from here on is OpenIddict's (expiry, iss and sub, audience path).
                    client.Reason = "invalid_assertion";
                }

                return client.VerifiedBy is not null;
            };

            // Until a key verifies, the failure is a signature no registered key makes.
            client.Reason = "wrong_key";
        }
    }
}

/// <summary>Whose keys a client assertion was checked against, and which one verified it: shared within one request.</summary>
public sealed class AssertionClient
{
    /// <summary>The assertion's issuer, as it claims.</summary>
    public string? ClientId { get; set; }

    public User? User { get; set; }

    public ApiCredential? VerifiedBy { get; set; }

    /// <summary>Why the assertion cannot authenticate, for the audit log, until a key has verified it.</summary>
    public string? Reason { get; set; }
}
