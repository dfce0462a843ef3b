using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Server.Audit;
using Tessera.Server.Mfa;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>
/// The second step of sign-in: a TOTP or recovery code (field `code`) for the pending sign-in. A wrong code counts
/// toward the same lockout as a wrong password, so the six digits cannot be guessed at leisure.
/// </summary>
[AllowAnonymous]
[Microsoft.AspNetCore.RateLimiting.EnableRateLimiting(Http.RateLimits.SecondFactor)]
public sealed class SignInMfaModel(SignInFlow flow, MfaMethods methods, PasswordSignIn passwords, TesseraDbContext db, AuditLog audit) : PageModel
{
    /// <summary>True after a wrong code: the page says so and focuses the message.</summary>
    public bool WrongCode { get; private set; }

    public async Task<IActionResult> OnGetAsync()
        => await flow.PendingAsync(HttpContext, PendingStage.SecondFactor) is null ? Redirect("/signin") : Page();

    public async Task<IActionResult> OnPostAsync(string? code)
    {
        var ct = HttpContext.RequestAborted;
        if (await flow.PendingAsync(HttpContext, PendingStage.SecondFactor) is not { } pending)
        {
            // Expired, or the user may no longer act (locked by wrong codes, disabled): back to the start.
            return Redirect("/signin");
        }

        var user = await db.Users.FindAsync([pending.UserId], ct);
        if (user is null)
        {
            return Redirect("/signin");
        }

        var method = await methods.VerifyAsync(pending.UserId, code, ct);
        if (method is null)
        {
            await passwords.CountWrongSecretAsync("signin.mfa", user, "wrong_code", ct);
            WrongCode = true;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        audit.Record(db, "signin.mfa", "user", user.Id.ToString(), user.Username, new { method }, "success",
            audit.CurrentActor() with { Id = user.Id, Name = user.Username });
        await db.SaveChangesAsync(ct);
        return LocalRedirect(await flow.CompleteSecondFactorAsync(HttpContext, pending, AuthenticationMethods.OneTimePassword, ct));
    }
}
