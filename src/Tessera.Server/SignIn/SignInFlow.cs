using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;

namespace Tessera.Server.SignIn;

/// <summary>
/// Authentication method references (RFC 8176) that Tessera records in a session's and a token's `amr`.
/// A passkey with user verification counts as two factors on its own (possession and the device's PIN or biometric).
/// </summary>
public static class AuthenticationMethods
{
    public const string Password = "pwd";
    public const string OneTimePassword = "otp";
    public const string HardwareKey = "hwk";
    public const string MultiFactor = "mfa";
}

/// <summary>Where a sign-in stands between its first factor and its session.</summary>
public enum PendingStage
{
    /// <summary>The user holds a second factor and must present it at /signin/mfa.</summary>
    SecondFactor,

    /// <summary>The policy requires a second factor the user does not hold yet: /profile/mfa, and nothing else.</summary>
    Enrolment,
}

/// <summary>A sign-in past its first factor, held in a short-lived cookie of its own (never a session).</summary>
public sealed record PendingSignIn(Guid UserId, string StampDigest, IReadOnlyList<string> Amr, string ReturnUrl, PendingStage Stage);

/// <summary>
/// The one way from a proven first factor (password, SSO, passkey) to a Back Office session. Every sign-in path
/// calls <see cref="ContinueAsync"/>; it decides whether the user still owes a second factor (or an enrolment),
/// and only then creates the session, whose `amr` says what was proven.
/// </summary>
public sealed class SignInFlow(CallerDirectory callers, TimeProvider clock)
{
    /// <summary>After a first factor: a session, or a pending sign-in. Returns the local address to send the browser to.</summary>
    public async Task<string> ContinueAsync(HttpContext http, Guid userId, IReadOnlyList<string> amr, string returnUrl, CancellationToken ct)
    {
        returnUrl = SignInEndpoints.LocalOnly(returnUrl);
        var caller = await callers.GetAsync(userId, ct) ?? throw new InvalidOperationException("The user who just signed in no longer exists.");
        var now = clock.GetUtcNow().UtcDateTime;
        await http.SignInAsync(WebSessions.Scheme, WebSessions.Principal(caller, now, amr, amr.Contains(AuthenticationMethods.MultiFactor) ? now : null));
        return returnUrl;
    }

    /// <summary>The pending sign-in of this browser, if any and still current.</summary>
    public async Task<PendingSignIn?> PendingAsync(HttpContext http)
    {
        var result = await http.AuthenticateAsync(WebSessions.PendingScheme);
        if (!result.Succeeded || !Guid.TryParse(result.Principal.FindFirstValue(TesseraClaims.Subject), out var id))
        {
            return null;
        }

        var p = result.Principal;
        return new PendingSignIn(id, p.FindFirstValue(TesseraClaims.Stamp) ?? "",
            [.. p.FindAll(TesseraClaims.Amr).Select(c => c.Value)],
            SignInEndpoints.LocalOnly(result.Properties?.Items.TryGetValue("returnUrl", out var back) == true ? back : "/"),
            Enum.TryParse<PendingStage>(p.FindFirstValue(TesseraClaims.PendingStage), out var stage) ? stage : PendingStage.SecondFactor);
    }

    /// <summary>Ends a pending sign-in with its second factor (`method`, an <see cref="AuthenticationMethods"/> value): the session begins.</summary>
    public async Task<string> CompleteSecondFactorAsync(HttpContext http, PendingSignIn pending, string method, CancellationToken ct)
    {
        await http.SignOutAsync(WebSessions.PendingScheme);
        var caller = await callers.GetAsync(pending.UserId, ct) ?? throw new InvalidOperationException("The user who just signed in no longer exists.");
        var now = clock.GetUtcNow().UtcDateTime;
        var amr = pending.Amr.Append(method).Append(AuthenticationMethods.MultiFactor).Distinct(StringComparer.Ordinal).ToList();
        await http.SignInAsync(WebSessions.Scheme, WebSessions.Principal(caller, now, amr, now));
        return pending.ReturnUrl;
    }

    /// <summary>
    /// A second factor presented again within a session (step-up): the stored session record gains the method and "mfa",
    /// and its second-factor time becomes now. The next request rebuilds the session from the record, on any instance.
    /// </summary>
    public async Task RecordStepUpAsync(HttpContext http, string method, CancellationToken ct)
    {
        if (WebSessions.SessionIdOf(http.User) is not { } sessionId)
        {
            return;
        }

        // Resolved here rather than injected, so that the sign-in paths that never step up do not carry the store.
        var db = http.RequestServices.GetRequiredService<Storage.TesseraDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var record = await db.WebSessions.SingleOrDefaultAsync(s => s.Id == sessionId && s.EndedAt == null, ct);
        if (record is null)
        {
            return;
        }

        record.Amr = WebSessionRecords.JoinAmr(WebSessionRecords.SplitAmr(record.Amr).Append(method).Append(AuthenticationMethods.MultiFactor));
        record.SecondFactorAt = now;
        await db.SaveChangesAsync(ct);
    }
}
