using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>Ends the session (POST, with the antiforgery token): its stored record ends, not only the browser's cookie.</summary>
[AllowAnonymous]
public sealed class SignOutModel(SessionService sessions) : PageModel
{
    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        await sessions.SignOutAsync(HttpContext);
        return Redirect("/signin");
    }
}
