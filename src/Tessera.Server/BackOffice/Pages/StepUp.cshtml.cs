using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Server.Audit;
using Tessera.Server.Mfa;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>
/// The step-up prompt: a second factor shown again within a session before a sensitive action. Wrong codes count
/// toward the lockout as at sign-in. Success makes the session's second factor fresh and returns to the page,
/// where the user submits the action again.
/// </summary>
[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(Http.RateLimits.SecondFactor)]
public sealed class StepUpPageModel(SignInFlow flow, MfaMethods methods, PasswordSignIn passwords, TesseraDbContext db, AuditLog audit) : PageModel
{
    public string ReturnUrl { get; private set; } = "/";

    /// <summary>True after a wrong code: the page says so and focuses the message.</summary>
    public bool WrongCode { get; private set; }

    public bool HoldsMethod { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? returnUrl)
    {
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        if (await HttpContext.CallerAsync() is not { } caller)
        {
            return Challenge(WebSessions.Scheme);
        }

        HoldsMethod = await methods.HoldsSecondFactorAsync(caller.Id, HttpContext.RequestAborted);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string? code, string? returnUrl)
    {
        var ct = HttpContext.RequestAborted;
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        if (await HttpContext.CallerAsync() is not { } caller || await db.Users.FindAsync([caller.Id], ct) is not { } user)
        {
            return Challenge(WebSessions.Scheme);
        }

        HoldsMethod = true;
        var method = await methods.VerifyAsync(caller.Id, code, ct);
        if (method is null)
        {
            await passwords.CountWrongSecretAsync("mfa.step_up", user, "wrong_code", ct);
            WrongCode = true;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        audit.Record(db, "mfa.step_up", "user", user.Id.ToString(), user.Username, new { method });
        await db.SaveChangesAsync(ct);
        await flow.RecordStepUpAsync(HttpContext, AuthenticationMethods.OneTimePassword, ct);
        return LocalRedirect(ReturnUrl);
    }
}
