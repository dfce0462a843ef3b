using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Roles;

namespace Tessera.Server.BackOffice.Pages.Admin.Roles;

/// <summary>The roles list.</summary>
[RequiresPrivilege(Privileges.ViewRoles)]
public sealed class IndexModel(RoleService roles) : PageModel
{
    public IReadOnlyList<RoleResponse> Roles { get; private set; } = [];

    public bool MayManage { get; private set; }

    public async Task OnGetAsync()
    {
        Roles = await roles.ListAsync(HttpContext.RequestAborted);
        MayManage = await HttpContext.HoldsAsync(Privileges.ManageRoles);
    }
}
