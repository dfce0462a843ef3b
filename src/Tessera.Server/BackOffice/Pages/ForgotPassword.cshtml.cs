using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Server.Credentials;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>"Trouble signing in": asks for an email and always answers the same.</summary>
[AllowAnonymous]
[EnableRateLimiting(CredentialsEndpoints.RateLimitPolicy)]
public sealed class ForgotPasswordModel(CredentialService credentials, EmailThrottle throttle) : PageModel
{
    public bool Sent { get; private set; }

    public void OnGet()
    {
    }

    public async Task OnPostAsync(string? email)
    {
        if (throttle.Allow(email))
        {
            await credentials.ForgotAsync(email, HttpContext.RequestAborted);
        }

        Sent = true;
    }
}
