using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Server.SignIn;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>The dashboard: the figures of <see cref="DirectoryOverview"/> the caller may see, each a link to the list it counts.</summary>
public sealed class IndexModel(DirectoryOverview overview) : PageModel
{
    public OverviewResponse Overview { get; private set; } = new(null, null, DirectoryOverview.ExpiringDays, null, null);

    public string Username { get; private set; } = "";

    public async Task<IActionResult> OnGetAsync()
    {
        if (await HttpContext.CallerAsync() is not { } caller)
        {
            return Challenge(WebSessions.Scheme);
        }

        Username = caller.Username;
        Overview = await overview.ForAsync(caller, HttpContext.RequestAborted);
        return Page();
    }
}
