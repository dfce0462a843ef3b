using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Server.Audit;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>Ends the session (POST, with the antiforgery token).</summary>
[AllowAnonymous]
public sealed class SignOutModel(TesseraDbContext db, AuditLog audit) : PageModel
{
    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (User.Identity?.IsAuthenticated == true)
        {
            var actor = audit.CurrentActor();
            audit.Record(db, "signout", "user", actor.Id?.ToString(), actor.Name);
            await db.SaveChangesAsync(HttpContext.RequestAborted);
        }

        await HttpContext.SignOutAsync(WebSessions.Scheme);
        return Redirect("/signin");
    }
}
