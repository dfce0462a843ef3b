using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Validation.AspNetCore;

namespace Tessera.Server.SignIn;

/// <summary>
/// The bearer scheme of Tessera's API. A token's first use goes through OpenIddict's validation (signature,
/// issuer, audience, lifetime, standing); the principal it yields is then remembered under the token's SHA-256
/// for a short, bounded while, so that a client's next requests with the same token skip parsing and the
/// signature check. What can change about a valid token is still checked on every request: its expiry against
/// the clock, and its standing (user status, security stamp, revocation). A remembered token that no longer
/// stands is forgotten and validated afresh, so refusals read exactly as before. Challenges and forbids are
/// OpenIddict's.
/// </summary>
public sealed class VerifiedBearerTokens : IDisposable
{
    public const string Scheme = "Tessera.Bearer";

    /// <summary>Bounds how long a signing key withdrawn elsewhere still lets a remembered token through.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);

    public const int Capacity = 10_000;

    private readonly MemoryCache cache;
    private readonly TimeProvider clock;

    public VerifiedBearerTokens(TimeProvider clock)
    {
        this.clock = clock;
        cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Capacity });
    }

    internal bool TryGet(string token, out ClaimsPrincipal principal, out DateTimeOffset expires)
    {
        var now = clock.GetUtcNow();
        if (cache.TryGetValue(Key(token), out Entry? entry) && entry is not null && entry.Expires > now && entry.RememberedUntil > now)
        {
            principal = entry.Principal;
            expires = entry.Expires;
            return true;
        }

        principal = null!;
        expires = default;
        return false;
    }

    internal void Remember(string token, ClaimsPrincipal principal)
    {
        if (principal.GetExpirationDate() is not { } expires)
        {
            return;
        }

        var until = clock.GetUtcNow() + MaxAge;
        cache.Set(Key(token), new Entry(principal, expires, until), new MemoryCacheEntryOptions
        {
            Size = 1,
            AbsoluteExpirationRelativeToNow = MaxAge,
        });
    }

    internal void Forget(string token) => cache.Remove(Key(token));

    public void Dispose() => cache.Dispose();

    private static string Key(string token) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private sealed record Entry(ClaimsPrincipal Principal, DateTimeOffset Expires, DateTimeOffset RememberedUntil);
}

/// <summary>Serves <see cref="VerifiedBearerTokens.Scheme"/>: remembered tokens from memory, others through OpenIddict.</summary>
internal sealed class VerifiedBearerHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    VerifiedBearerTokens verified,
    TokenStanding standing)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string ValidationScheme = OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
        if (string.IsNullOrEmpty(token))
        {
            return await Context.AuthenticateAsync(ValidationScheme);
        }

        if (verified.TryGet(token, out var remembered, out var expires))
        {
            if (await standing.RefusalAsync(remembered, Context.RequestAborted) is null)
            {
                var properties = new AuthenticationProperties { ExpiresUtc = expires };
                return AuthenticateResult.Success(new AuthenticationTicket(remembered.Clone(), properties, Scheme.Name));
            }

            verified.Forget(token);
        }

        var result = await Context.AuthenticateAsync(ValidationScheme);
        if (result.Succeeded && result.Principal is { } principal)
        {
            verified.Remember(token, principal.Clone());
            return AuthenticateResult.Success(new AuthenticationTicket(principal, result.Properties, Scheme.Name));
        }

        return result;
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) => Context.ChallengeAsync(ValidationScheme, properties);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => Context.ForbidAsync(ValidationScheme, properties);
}
