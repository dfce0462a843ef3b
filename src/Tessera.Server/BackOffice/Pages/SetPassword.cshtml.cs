using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Core.Credentials;
using Tessera.Server.Credentials;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>Where invitation and reset links land: shows the policy's rules and sets the password.</summary>
[AllowAnonymous]
[EnableRateLimiting(CredentialsEndpoints.RateLimitPolicy)]
public sealed class SetPasswordModel(CredentialService credentials) : PageModel
{
    public User? Owner { get; private set; }

    public string Token { get; private set; } = "";

    public bool Expired { get; private set; }

    public bool Done { get; private set; }

    public PasswordPolicy Policy { get; private set; } = PasswordPolicy.Default;

    /// <summary>What the new password breaks (each rule, and for a guessable one why and what to do instead).</summary>
    public IReadOnlyList<string> Errors { get; private set; } = [];

    /// <summary>The confirmation's own error, shown together with <see cref="Errors"/>.</summary>
    public string? ConfirmError { get; private set; }

    /// <summary>True after a refused submit: the error summary shows and takes the focus.</summary>
    public bool Failed { get; private set; }

    public async Task OnGetAsync(string? token, bool expired)
    {
        Token = token ?? "";
        Expired = expired;
        Owner = await credentials.LinkOwnerAsync(token, HttpContext.RequestAborted);
        Policy = await credentials.PolicyAsync(HttpContext.RequestAborted);
    }

    public async Task<IActionResult> OnPostAsync(string? token, string? newPassword, string? confirmPassword)
    {
        Token = token ?? "";
        Policy = await credentials.PolicyAsync(HttpContext.RequestAborted);
        var failure = await credentials.ResetAsync(new ResetPasswordRequest(token, newPassword, confirmPassword ?? ""), HttpContext.RequestAborted);
        if (failure is null)
        {
            Done = true;
            return Page();
        }

        Owner = await credentials.LinkOwnerAsync(token, HttpContext.RequestAborted);
        Failed = true;
        var confirm = failure.Errors?.GetValueOrDefault("confirmPassword");
        ConfirmError = confirm is { Length: > 0 } ? confirm[0] : null;
        Errors = failure.Violations?.SelectMany(v => v.Lines()).ToList() ?? (ConfirmError is null ? [failure.Detail] : []);
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}
