using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Server.BackOffice.Localization;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Roles;

namespace Tessera.Server.BackOffice.Pages.Admin.Roles;

/// <summary>
/// Create, change or delete a role: privilege toggles with their descriptions and an allow / deny / not set matrix of
/// the registered resources; and, on the holders tab (?tab=holders), who holds it, directly and through groups.
/// </summary>
[RequiresPrivilege(Core.Access.Privileges.ViewRoles)]
[RequiresPrivilege(Core.Access.Privileges.ManageRoles, OnlyFor = "POST")]
public sealed class RoleModel(RoleService roles, RoleHolders holders, IStringLocalizer<SharedText> Text) : PageModel
{
    /// <summary>The signed-in user's privileges: the most that a role they change may hand out.</summary>
    private IReadOnlySet<string> _ceiling = new HashSet<string>();

    [BindProperty(SupportsGet = true)] public string Id { get; set; } = "new";

    /// <summary>"holders" shows the holders tab; anything else the definition.</summary>
    [BindProperty(SupportsGet = true)] public string? Tab { get; set; }

    /// <summary>The holders page's keyset cursor.</summary>
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    /// <summary>The holders page; null when the signed-in user lacks VIEW_USERS (the list names users).</summary>
    public RoleHolderPage? Holders { get; private set; }

    public bool ShowsHolders => Existing is not null && Tab == "holders";

    [BindProperty] public string? Name { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public List<string> Privileges { get; set; } = [];

    /// <summary>Granting the role needs a second person when the approval policy lists grant_role.</summary>
    [BindProperty] public bool RequiresApproval { get; set; }

    /// <summary>"resource:action" → allow, deny, or empty for not set.</summary>
    [BindProperty] public Dictionary<string, string> Rules { get; set; } = [];
    [BindProperty] public bool ConfirmDelete { get; set; }

    public RoleResponse? Existing { get; private set; }

    public IReadOnlyList<PrivilegeResponse> Catalog { get; private set; } = [];

    public ResourceCatalog Resources { get; private set; } = new([]);

    public bool MayManage { get; private set; }

    /// <summary>
    /// The privilege checkboxes. One the signed-in user does not hold is disabled, unless the role has it
    /// already: then it stays ticked and may be unticked, since taking away is not capped (a disabled box
    /// would not be posted, and saving would drop it).
    /// </summary>
    public IReadOnlyList<PrivilegeToggle> PrivilegeToggles
        => Toggles.Privileges(Catalog, Privileges, Existing?.Privileges ?? [], MayManage && Existing?.BuiltIn != true ? _ceiling : null);

    public bool IsNew => Existing is null;

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        if (Existing is { } role)
        {
            Name = role.Name;
            Description = role.Description;
            Privileges = [.. role.Privileges];
            RequiresApproval = role.RequiresApproval;
            Rules = role.Rules.ToDictionary(r => $"{r.Resource}:{r.Action}", r => r.Effect ?? "");
        }

        if (ShowsHolders && _ceiling.Contains(Core.Access.Privileges.ViewUsers))
        {
            var page = await holders.ListAsync(Existing!.Id, new RoleHolderQuery(RoleHolders.DefaultLimit, string.IsNullOrEmpty(Cursor) ? null : Cursor), HttpContext.RequestAborted);
            if (!page.Succeeded)
            {
                // A stale or garbled cursor: start again from the first page rather than show an error.
                return Redirect($"/admin/roles/{Existing.Id}?tab=holders");
            }

            Holders = page.Value;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        var rules = Rules.Where(r => r.Value is "allow" or "deny")
            .Select(r => r.Key.Split(':', 2) is [var resource, var action] ? new RuleDto(resource, action, r.Value) : new RuleDto(r.Key, "", r.Value))
            .ToList();

        // Rules the matrix cannot show (wildcards, say) stay as they are.
        var shown = Resources.Resources!.SelectMany(r => r.Actions!.Select(a => $"{r.Name}:{a}")).ToHashSet(StringComparer.Ordinal);
        rules.AddRange(Existing?.Rules.Where(r => !shown.Contains($"{r.Resource}:{r.Action}")) ?? []);

        var request = new RoleRequest(Name, Description ?? "", Privileges, rules, RequiresApproval);
        var outcome = Existing is null
            ? await roles.CreateAsync(request, HttpContext.RequestAborted)
            : await roles.UpdateAsync(Existing.Id, request, HttpContext.RequestAborted);
        if (outcome.Failure.SentForApproval(TempData))
        {
            return Redirect(Existing is null ? "/admin/roles" : $"/admin/roles/{Existing.Id}");
        }

        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            return Page();
        }

        TempData["Notice"] = (Existing is null ? Text["Role {0} was created.", outcome.Value!.Name] : Text["Role {0} was saved.", outcome.Value!.Name]).Value;
        return Redirect($"/admin/roles/{outcome.Value.Id}");
    }

    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (!await LoadAsync() || Existing is null)
        {
            return NotFound();
        }

        Name = Existing.Name;
        Description = Existing.Description;
        Privileges = [.. Existing.Privileges];
        Rules = Existing.Rules.ToDictionary(r => $"{r.Resource}:{r.Action}", r => r.Effect ?? "");
        if (!ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the role is to be deleted."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var deleted = await roles.DeleteAsync(Existing.Id, HttpContext.RequestAborted);
        if (deleted.SentForApproval(TempData))
        {
            return Redirect($"/admin/roles/{Existing.Id}");
        }

        if (deleted is { } failure)
        {
            failure.AddTo(ModelState);
            Response.StatusCode = failure.Kind == FailureKind.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status409Conflict;
            return Page();
        }

        TempData["Notice"] = Text["Role {0} was deleted.", Existing.Name].Value;
        return Redirect("/admin/roles");
    }

    public string Effect(string resource, string action) => Rules.TryGetValue($"{resource}:{action}", out var effect) ? effect : "";

    private async Task<bool> LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (Id != "new")
        {
            if (!Guid.TryParse(Id, out var id) || await roles.GetAsync(id, ct) is not { Succeeded: true } found)
            {
                return false;
            }

            Existing = found.Value;
        }

        Catalog = await roles.PrivilegesAsync(ct);
        Resources = await roles.ResourcesAsync(ct);
        _ceiling = (await HttpContext.CallerAsync())?.Privileges ?? new HashSet<string>();
        MayManage = _ceiling.Contains(Core.Access.Privileges.ManageRoles);
        return true;
    }
}
