using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>The Back Office sign-in page: username or email and password, or a button per SSO provider.</summary>
[AllowAnonymous]
[EnableRateLimiting(Http.RateLimits.SignIn)]
public sealed class SignInModel(PasswordSignIn passwords, SignInFlow flow, SsoProviders providers, Credentials.CredentialTokens tokens, Storage.TesseraDbContext db) : PageModel
{
    public const string GenericFailure = "The username or password is incorrect, or this account cannot sign in here.";

    public string? Message { get; private set; }

    public string Login { get; private set; } = "";

    public string ReturnUrl { get; private set; } = "/";

    public IReadOnlyList<SsoProvider> Providers => providers.All;

    public void OnGet(string? returnUrl, string? sso)
    {
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        Message = Enum.TryParse<SsoRefusal>(sso, out var refusal) ? Describe(refusal) : null;
    }

    public async Task<IActionResult> OnPostAsync(string? login, string? password, string? returnUrl)
    {
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        Login = login ?? "";
        var check = await passwords.CheckAsync(login, password, SignInChannel.BackOffice, HttpContext.RequestAborted);
        if (!check.Succeeded)
        {
            Message = GenericFailure;
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (check.PasswordExpired)
        {
            // The password is past the policy's maximum age: it must be changed before anything else.
            var secret = tokens.Issue(db, check.User!.Id, Credentials.TokenPurposes.Reset, TimeSpan.FromMinutes(15));
            await db.SaveChangesAsync(HttpContext.RequestAborted);
            return Redirect("/set-password?expired=true&token=" + Uri.EscapeDataString(secret));
        }

        return LocalRedirect(await flow.ContinueAsync(HttpContext, check.User!.Id, [AuthenticationMethods.Password], ReturnUrl, HttpContext.RequestAborted));
    }

    public static string? Describe(SsoRefusal refusal) => refusal switch
    {
        SsoRefusal.UnknownIdentity => "This account is not known to Tessera. Ask an administrator to create it.",
        SsoRefusal.UnverifiedEmail => "Your provider has not verified your email address, so it cannot be matched to an account.",
        SsoRefusal.NotBackOffice => "This account cannot sign in to the Back Office.",
        SsoRefusal.Disabled => "This account is disabled or locked. Ask an administrator.",
        SsoRefusal.PasswordUser => "This account signs in with a password, not with single sign-on.",
        SsoRefusal.Provisioned => "Your account was created. An administrator has to grant you access before you can sign in.",
        SsoRefusal.Failed => "Single sign-on did not complete. Try again.",
        _ => null,
    };
}
