using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace Tessera.Server.Passkeys;

/// <summary>What a ceremony is for: adding a passkey, or signing in / confirming with one.</summary>
public enum CeremonyPurpose
{
    Register,
    Assert,
}

/// <summary>How an assertion is used; fixed when its options are issued, never taken from the answer.</summary>
public enum AssertionMode
{
    /// <summary>Passwordless sign-in: the passkey is the whole proof (hwk + mfa).</summary>
    SignIn,

    /// <summary>The second factor of a pending sign-in.</summary>
    SecondFactor,

    /// <summary>A second factor shown again inside a session.</summary>
    StepUp,
}

/// <summary>
/// A ceremony in flight: the options (and so the challenge) the server issued, for whom and why, and until when.
/// </summary>
public sealed record CeremonyState(CeremonyPurpose Purpose, AssertionMode Mode, Guid? UserId, string OptionsJson, string ReturnUrl, DateTime ExpiresAt);

/// <summary>
/// Keeps a ceremony's state in the browser, but only as a Data-Protection-protected, HttpOnly, strict same-site cookie
/// that lives as long as the ceremony: the client can neither read nor alter the challenge, and a state cookie from
/// another purpose or user is refused. The cookie is deleted when it is used, so each challenge is answered once.
/// The expiry is inside the protected payload and read with the service's clock.
/// </summary>
public sealed class PasskeyCeremonies(IDataProtectionProvider protection, TimeProvider clock)
{
    public const string CookieName = "tessera.passkey";

    private readonly IDataProtector _protector = protection.CreateProtector("Tessera.Passkeys.Ceremony.v1");

    public void Begin(HttpContext http, CeremonyPurpose purpose, AssertionMode mode, Guid? userId, string optionsJson, string returnUrl)
    {
        var state = new CeremonyState(purpose, mode, userId, optionsJson, returnUrl, clock.GetUtcNow().UtcDateTime + PasskeyConfiguration.CeremonyLifetime);
        http.Response.Cookies.Append(CookieName, _protector.Protect(JsonSerializer.Serialize(state)), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = "/",
            MaxAge = PasskeyConfiguration.CeremonyLifetime,
            IsEssential = true,
        });
    }

    /// <summary>The current ceremony of this browser for <paramref name="purpose"/>, ended at once: a challenge is never answered twice.</summary>
    public CeremonyState? End(HttpContext http, CeremonyPurpose purpose)
    {
        if (!http.Request.Cookies.TryGetValue(CookieName, out var value) || string.IsNullOrEmpty(value))
        {
            return null;
        }

        http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", Secure = http.Request.IsHttps, SameSite = SameSiteMode.Strict, HttpOnly = true });
        try
        {
            var state = JsonSerializer.Deserialize<CeremonyState>(_protector.Unprotect(value));
            return state is not null && state.Purpose == purpose && state.ExpiresAt > clock.GetUtcNow().UtcDateTime ? state : null;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or JsonException or FormatException)
        {
            return null;
        }
    }
}
