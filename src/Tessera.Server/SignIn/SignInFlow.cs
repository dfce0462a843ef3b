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
public sealed class SignInFlow(CallerDirectory callers, Mfa.MfaMethods methods, Storage.TesseraDbContext db, TimeProvider clock, Observability.TesseraMetrics metrics)
{
    /// <summary>
    /// After a first factor: a session, or a pending sign-in. Returns the local address to send the browser to.
    /// A first factor that already proved two (a passkey with user verification, an SSO provider's "mfa") gets its
    /// session. Else a user who holds a second factor owes it (/signin/mfa), whether or not the policy requires it:
    /// who enrolled is always asked. A user the policy requires it of who holds none must enrol first (/profile/mfa).
    /// An SSO user is never asked while the policy trusts the provider's MFA.
    /// The sign-in is counted here, once its outcome is known, under <paramref name="method"/> (by default the
    /// first factor the amr names: password or passkey).
    /// </summary>
    public async Task<string> ContinueAsync(HttpContext http, Guid userId, IReadOnlyList<string> amr, string returnUrl, CancellationToken ct, string? method = null)
    {
        method ??= amr.Contains(AuthenticationMethods.Password) ? Observability.SignInMethods.Password
            : amr.Contains(AuthenticationMethods.HardwareKey) ? Observability.SignInMethods.Passkey
            : "sso";
        returnUrl = SignInEndpoints.LocalOnly(returnUrl);
        var caller = await callers.GetAsync(userId, ct) ?? throw new InvalidOperationException("The user who just signed in no longer exists.");
        var now = clock.GetUtcNow().UtcDateTime;
        if (!amr.Contains(AuthenticationMethods.MultiFactor))
        {
            var policy = await Mfa.MfaPolicyService.GetAsync(db, ct);
            var trusted = policy.LeavesToProvider(caller.CredentialMode == Core.Users.CredentialMode.Sso);
            PendingStage? owed = trusted ? null
                : await methods.HoldsSecondFactorAsync(userId, ct) ? PendingStage.SecondFactor
                : await methods.RequiredAsync(caller, policy, ct) ? PendingStage.Enrolment
                : null;
            if (owed is { } stage)
            {
                await http.SignOutAsync(WebSessions.Scheme);
                await http.SignInAsync(WebSessions.PendingScheme, PendingPrincipal(caller, amr, stage),
                    new AuthenticationProperties(new Dictionary<string, string?> { ["returnUrl"] = returnUrl }));
                metrics.SignIn(stage == PendingStage.SecondFactor ? Observability.SignInOutcomes.SecondFactorRequired : Observability.SignInOutcomes.EnrolmentRequired, method);
                return stage == PendingStage.SecondFactor ? "/signin/mfa" : "/profile/mfa";
            }
        }

        await http.SignInAsync(WebSessions.Scheme, WebSessions.Principal(caller, now, amr, amr.Contains(AuthenticationMethods.MultiFactor) ? now : null));
        metrics.SignIn(Observability.SignInOutcomes.Success, method);
        return returnUrl;
    }

    /// <summary>A pending sign-in's principal: who, under which stamp (checked at every use), proven how so far, owing what.</summary>
    private static ClaimsPrincipal PendingPrincipal(CallerState caller, IEnumerable<string> amr, PendingStage stage)
    {
        var identity = new ClaimsIdentity(
        [
            new Claim(TesseraClaims.Subject, caller.Id.ToString()),
            new Claim(TesseraClaims.Username, caller.Username),
            new Claim(TesseraClaims.Stamp, caller.StampDigest),
            new Claim(TesseraClaims.PendingStage, stage.ToString()),
        ], WebSessions.PendingScheme, TesseraClaims.Username, TesseraClaims.Role);
        foreach (var method in amr.Distinct(StringComparer.Ordinal))
        {
            identity.AddClaim(new Claim(TesseraClaims.Amr, method));
        }

        return new ClaimsPrincipal(identity);
    }

    /// <summary>
    /// The pending sign-in of this browser at <paramref name="stage"/>, checked against the user's current standing as a
    /// session is: a user disabled, locked or re-stamped (password changed, MFA reset) between the two steps gets no
    /// further, and their pending cookie is dropped.
    /// </summary>
    public async Task<PendingSignIn?> PendingAsync(HttpContext http, PendingStage stage)
    {
        var pending = await PendingAsync(http);
        if (pending is null || pending.Stage != stage)
        {
            return null;
        }

        var caller = await callers.GetAsync(pending.UserId, http.RequestAborted);
        if (caller is null || caller.Type != Core.Users.UserType.BackOffice || !caller.MayAct(clock.GetUtcNow().UtcDateTime)
            || caller.StampDigest != pending.StampDigest)
        {
            await http.SignOutAsync(WebSessions.PendingScheme);
            return null;
        }

        return pending;
    }

    /// <summary>The pending sign-in this browser holds, as its cookie says (not yet checked against the user's standing).</summary>
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
        var caller = await callers.GetAsync(pending.UserId, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        if (caller is null || !caller.MayAct(now) || caller.StampDigest != pending.StampDigest)
        {
            // Disabled, locked, deleted or re-stamped since the first factor: the sign-in ends without a session.
            return "/signin";
        }

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
