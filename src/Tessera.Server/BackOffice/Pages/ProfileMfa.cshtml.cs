using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Mfa;
using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>
/// The user's own second factors: enrol an authenticator app (QR code, key as text, otpauth link; one valid code
/// ends it), see and regenerate recovery codes, remove the authenticator. Open to a full session, and to a pending
/// sign-in that owes an enrolment (the policy requires MFA of a user who has none): for that user this page is the
/// only one there is, and its first valid code starts the session.
/// </summary>
[AllowAnonymous]
[RequiresStepUp("Remove", "Regenerate")]
public sealed class ProfileMfaModel(MfaMethods methods, SignInFlow flow, CallerDirectory callers, IStringLocalizer<SharedText> Text) : PageModel
{
    public string Username { get; private set; } = "";

    /// <summary>The user whose second factors this page shows: the session's, or the pending sign-in's that must enrol.</summary>
    public Guid UserId { get; private set; }

    /// <summary>True while the user signs in and must enrol before anything else.</summary>
    public bool Enrolling { get; private set; }

    public IReadOnlyList<MfaMethodResponse> Methods { get; private set; } = [];

    public TotpEnrolment? Enrolment { get; private set; }

    /// <summary>Recovery codes just generated: shown on this response only, never again.</summary>
    public IReadOnlyList<string>? NewCodes { get; private set; }

    /// <summary>Where to go once the codes are noted.</summary>
    public string ContinueUrl { get; private set; } = "/profile/mfa";

    /// <summary>The code of a refused confirmation (wrong_code, no_enrolment); the page words it.</summary>
    public string? Message { get; private set; }

    public async Task<IActionResult> OnGetAsync() => await WhoAsync() is { } who ? await ShowAsync(who) : Challenge(WebSessions.Scheme);

    public async Task<IActionResult> OnPostConfirmAsync(string? code)
    {
        var ct = HttpContext.RequestAborted;
        if (await WhoAsync() is not { } who)
        {
            return Challenge(WebSessions.Scheme);
        }

        var confirmed = await methods.ConfirmTotpAsync(who.Id, who.Username, code, ct);
        if (!confirmed.Succeeded)
        {
            Message = confirmed.Failure!.Code;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return await ShowAsync(who);
        }

        // The first valid code is a second factor shown now: a sign-in that owed the enrolment gets its session,
        // a session records a fresh second factor.
        ContinueUrl = who.Pending is { } pending
            ? await flow.CompleteSecondFactorAsync(HttpContext, pending, AuthenticationMethods.OneTimePassword, ct)
            : "/profile/mfa";
        if (who.Pending is null)
        {
            await flow.RecordStepUpAsync(HttpContext, AuthenticationMethods.OneTimePassword, ct);
        }

        NewCodes = confirmed.Value;
        Username = who.Username;
        return Page();
    }

    public async Task<IActionResult> OnPostRegenerateAsync()
    {
        if (await WhoAsync() is not { Pending: null } who)
        {
            return Challenge(WebSessions.Scheme);
        }

        if (!await methods.HoldsSecondFactorAsync(who.Id, HttpContext.RequestAborted))
        {
            return Redirect("/profile/mfa");
        }

        NewCodes = await methods.RegenerateRecoveryCodesAsync(who.Id, who.Username, HttpContext.RequestAborted);
        Username = who.Username;
        return Page();
    }

    public async Task<IActionResult> OnPostRemoveAsync()
    {
        if (await WhoAsync() is not { Pending: null } who)
        {
            return Challenge(WebSessions.Scheme);
        }

        await methods.RemoveTotpAsync(who.Id, who.Username, HttpContext.RequestAborted);
        TempData["Notice"] = Text["Your authenticator app was removed."].Value;
        return Redirect("/profile/mfa");
    }

    private async Task<IActionResult> ShowAsync(Who who)
    {
        var ct = HttpContext.RequestAborted;
        Username = who.Username;
        UserId = who.Id;
        Enrolling = who.Pending is not null;
        Methods = await methods.ListAsync(who.Id, ct);
        if (Methods.All(m => m.Type != MfaMethods.Totp))
        {
            Enrolment = await methods.BeginTotpAsync(who.Id, who.Username, ct);
        }

        return Page();
    }

    /// <summary>The user this page serves: the session's, else the pending sign-in's that owes an enrolment.</summary>
    private async Task<Who?> WhoAsync()
    {
        if (User.Identity?.IsAuthenticated == true && await HttpContext.CallerAsync() is { } caller)
        {
            return new Who(caller.Id, caller.Username, null);
        }

        if (await flow.PendingAsync(HttpContext, PendingStage.Enrolment) is { } pending
            && await callers.GetAsync(pending.UserId, HttpContext.RequestAborted) is { } owing)
        {
            return new Who(owing.Id, owing.Username, pending);
        }

        return null;
    }

    private sealed record Who(Guid Id, string Username, PendingSignIn? Pending);
}
