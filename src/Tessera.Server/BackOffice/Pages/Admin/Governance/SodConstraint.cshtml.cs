using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Governance;
using Tessera.Server.Roles;

namespace Tessera.Server.BackOffice.Pages.Admin.Governance;

/// <summary>Create, change or delete a separation-of-duties constraint, through <see cref="SodConstraintService"/>.</summary>
[RequiresPrivilege(Privileges.ManageGovernance)]
public sealed class SodConstraintModel(SodConstraintService constraints, RoleService roles, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    [BindProperty(SupportsGet = true)] public string Id { get; set; } = "new";

    [BindProperty] public string? Name { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public List<string> Roles { get; set; } = [];
    [BindProperty] public int MaxHeld { get; set; } = 1;
    [BindProperty] public bool ConfirmDelete { get; set; }

    public SodConstraintResponse? Existing { get; private set; }

    public IReadOnlyList<RoleResponse> AllRoles { get; private set; } = [];

    /// <summary>The users who already break the constraint as entered (<c>sod_existing_violations</c>), and how many in all.</summary>
    public IReadOnlyList<SodHolderResponse> Violations { get; private set; } = [];

    public int ViolationTotal { get; private set; }

    public bool IsNew => Existing is null;

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        if (Existing is { } existing)
        {
            (Name, Description, Roles, MaxHeld) = (existing.Name, existing.Description, [.. existing.Roles], existing.MaxHeld);
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        var request = new SodConstraintRequest(Name, Description, Roles, MaxHeld);
        var outcome = Existing is null
            ? await constraints.CreateAsync(request, HttpContext.RequestAborted)
            : await constraints.UpdateAsync(Existing.Id, request, HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            return Refused(outcome.Failure!);
        }

        TempData["Notice"] = (Existing is null ? Text["Constraint {0} was created.", outcome.Value!.Name] : Text["Constraint {0} was saved.", outcome.Value!.Name]).Value;
        return Redirect("/admin/sod-constraints");
    }

    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (!await LoadAsync() || Existing is null)
        {
            return NotFound();
        }

        (Name, Description, Roles, MaxHeld) = (Existing.Name, Existing.Description, [.. Existing.Roles], Existing.MaxHeld);
        if (!ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the constraint is to be deleted."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (await constraints.DeleteAsync(Existing.Id, HttpContext.RequestAborted) is { } failure)
        {
            return Refused(failure);
        }

        TempData["Notice"] = Text["Constraint {0} was deleted.", Existing.Name].Value;
        return Redirect("/admin/sod-constraints");
    }

    private PageResult Refused(Failure failure)
    {
        failure.AddTo(ModelState);
        if (failure.Extensions?.GetValueOrDefault("violations") is IReadOnlyList<SodHolderResponse> violations)
        {
            Violations = violations;
            ViolationTotal = failure.Extensions.GetValueOrDefault("total") as int? ?? violations.Count;
        }

        Response.StatusCode = failure.FormStatus();
        return Page();
    }

    private async Task<bool> LoadAsync()
    {
        AllRoles = await roles.ListAsync(HttpContext.RequestAborted);
        if (Id == "new")
        {
            return true;
        }

        if (!Guid.TryParse(Id, out var id))
        {
            return false;
        }

        var found = await constraints.GetAsync(id, HttpContext.RequestAborted);
        Existing = found.Value;
        return found.Succeeded;
    }
}
