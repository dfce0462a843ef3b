using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Groups;

namespace Tessera.Server.BackOffice.Pages.Admin.Groups;

/// <summary>The groups list.</summary>
[RequiresPrivilege(Privileges.ViewUsers)]
public sealed class IndexModel(GroupService groups) : PageModel
{
    public IReadOnlyList<GroupResponse> Groups { get; private set; } = [];

    public bool MayManage { get; private set; }

    public async Task OnGetAsync()
    {
        Groups = await groups.ListAsync(HttpContext.RequestAborted);
        MayManage = await HttpContext.HoldsAsync(Privileges.ManageGroups);
    }
}
