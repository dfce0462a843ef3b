using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Governance;

namespace Tessera.Server.BackOffice.Pages.Admin.Governance;

/// <summary>The separation-of-duties constraints.</summary>
[RequiresPrivilege(Privileges.ManageGovernance)]
public sealed class SodConstraintsModel(SodConstraintService constraints) : PageModel
{
    public IReadOnlyList<SodConstraintResponse> Constraints { get; private set; } = [];

    public async Task OnGetAsync() => Constraints = await constraints.ListAsync(HttpContext.RequestAborted);
}
