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
    /// <summary>Why the page shows a refusal: a wrong login or password (<see cref="Failed"/>), or a single sign-on that did not succeed.</summary>
    public bool Failed { get; private set; }

    public SsoRefusal? Refusal { get; private set; }

    public string Login { get; private set; } = "";

    public string ReturnUrl { get; private set; } = "/";

    public IReadOnlyList<SsoProvider> Providers => providers.All;

    public void OnGet(string? returnUrl, string? sso)
    {
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        Refusal = Enum.TryParse<SsoRefusal>(sso, out var refusal) && Enum.IsDefined(refusal) ? refusal : null;
    }

    public async Task<IActionResult> OnPostAsync(string? login, string? password, string? returnUrl)
    {
        ReturnUrl = SignInEndpoints.LocalOnly(returnUrl);
        Login = login ?? "";
        var check = await passwords.CheckAsync(login, password, SignInChannel.BackOffice, HttpContext.RequestAborted);
        if (!check.Succeeded)
        {
            Failed = true;
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
}
