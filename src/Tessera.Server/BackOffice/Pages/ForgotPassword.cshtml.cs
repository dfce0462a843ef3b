using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Server.Credentials;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>"Trouble signing in": asks for a username or an email and always answers the same.</summary>
[AllowAnonymous]
[EnableRateLimiting(CredentialsEndpoints.RateLimitPolicy)]
public sealed class ForgotPasswordModel(CredentialService credentials, EmailThrottle throttle) : PageModel
{
    public bool Sent { get; private set; }

    public void OnGet()
    {
    }

    public async Task OnPostAsync(string? login)
    {
        if (throttle.Allow(login))
        {
            await credentials.ForgotAsync(login, HttpContext.RequestAborted);
        }

        Sent = true;
    }
}
