using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Roles;

namespace Tessera.Server.BackOffice.Pages.Admin.Resources;

/// <summary>
/// The resource catalog (GET/PUT /api/v1/resources) as sections and their actions, with the roles whose rules use each.
/// Every change replaces the catalog from the version the page showed, so two people editing at once cannot undo each
/// other's work: the second is told the catalog changed (resource_catalog_changed) and sees it afresh.
/// </summary>
[RequiresPrivilege(Privileges.ViewRoles)]
[RequiresPrivilege(Privileges.ManageResources, OnlyFor = "POST")]
public sealed class IndexModel(RoleService roles, IStringLocalizer<SharedText> Text) : PageModel
{
    /// <summary>The catalog version the form was shown with.</summary>
    [BindProperty] public string? Version { get; set; }

    [BindProperty] public string? Section { get; set; }

    /// <summary>One action, or (registering a section) several separated by commas or spaces.</summary>
    [BindProperty] public string? Actions { get; set; }

    public ResourceCatalog Catalog { get; private set; } = new([]);

    public IReadOnlyList<ResourceUse> Uses { get; private set; } = [];

    public bool MayManage { get; private set; }

    /// <summary>The form that failed ("register", or "add:section"), to show its errors beside it.</summary>
    public string? Failed { get; private set; }

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostRegisterAsync()
    {
        if (Split(Actions).Count == 0)
        {
            ModelState.AddModelError(nameof(Actions), Text["Name at least one action: a section exists through its actions."]);
            Failed = "register";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            var version = Version;
            await LoadAsync();
            Version = version;
            return Page();
        }

        return await ChangeAsync("register", Register);
    }

    private string? Register(List<ResourceDto> resources)
    {
        var name = Section?.Trim().ToLowerInvariant() ?? "";
        var wanted = Split(Actions);
        if (resources.FirstOrDefault(r => r.Name == name) is { } existing)
        {
            resources[resources.IndexOf(existing)] = existing with { Actions = [.. (existing.Actions ?? []).Union(wanted)] };
        }
        else
        {
            resources.Add(new ResourceDto(name, wanted));
        }

        return Text["Section {0} was registered.", name].Value;
    }

    public Task<IActionResult> OnPostAddActionAsync() => ChangeAsync("add:" + Section, resources =>
    {
        var section = resources.FirstOrDefault(r => r.Name == Section);
        if (section is null)
        {
            return null;
        }

        resources[resources.IndexOf(section)] = section with { Actions = [.. (section.Actions ?? []).Union(Split(Actions))] };
        return Text["The actions were added to {0}.", Section ?? ""].Value;
    });

    public Task<IActionResult> OnPostRemoveActionAsync() => ChangeAsync("section:" + Section, resources =>
    {
        var section = resources.FirstOrDefault(r => r.Name == Section);
        if (section is null)
        {
            return null;
        }

        resources[resources.IndexOf(section)] = section with { Actions = [.. (section.Actions ?? []).Where(a => a != Actions)] };
        return Text["Action {0} was removed from {1}.", Actions ?? "", Section ?? ""].Value;
    });

    public Task<IActionResult> OnPostRemoveSectionAsync() => ChangeAsync("section:" + Section, resources =>
        resources.RemoveAll(r => r.Name == Section) == 0 ? null : Text["Section {0} was removed.", Section ?? ""].Value);

    /// <summary>Applies the change to the catalog as it stands and replaces it, refused when it changed since the page showed it.</summary>
    /// <param name="change">Changes the list and returns the notice, or null when what it names is gone.</param>
    private async Task<IActionResult> ChangeAsync(string form, Func<List<ResourceDto>, string?> change)
    {
        var ct = HttpContext.RequestAborted;
        var current = await roles.ResourcesAsync(ct);
        var resources = current.Resources ?? [];
        var notice = current.Version == Version ? change(resources) : null;
        var outcome = notice is null
            ? Outcome<ResourceCatalog>.Fail(Failure.Conflict("resource_catalog_changed", ""))
            : await roles.ReplaceResourcesAsync(new ResourceCatalog(resources, Version), ct);
        if (outcome.Succeeded)
        {
            TempData["Notice"] = notice;
            return Redirect("/admin/resources");
        }

        var failure = outcome.Failure!;
        ModelState.AddModelError(string.Empty, failure.Code switch
        {
            "resource_catalog_changed" => Text["The resource catalog changed since this page showed it. It is shown afresh: check it and repeat your change."].Value,
            "resource_in_use" => Text["{0}:{1} is still used by the rules of {2}. Change those roles first.",
                failure.Extensions?.GetValueOrDefault("resource") ?? "", failure.Extensions?.GetValueOrDefault("action") ?? "",
                string.Join(", ", failure.Extensions?.GetValueOrDefault("roles") as IEnumerable<string> ?? [])].Value,
            _ => failure.Detail,
        });
        Failed = form;
        Response.StatusCode = failure.FormStatus();
        await LoadAsync();
        if (failure.Code == "resource_catalog_changed")
        {
            Section = null;
            Actions = null;
        }

        return Page();
    }

    /// <summary>The roles whose rules name the action (or every action of the section, "*").</summary>
    public IEnumerable<ResourceUse> UsesOf(string section, string? action)
        => Uses.Where(u => u.Resource == section && (action is null || u.Action == action || u.Action == PermissionRule.Wildcard));

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        Catalog = await roles.ResourcesAsync(ct);
        Version = Catalog.Version;
        Uses = await roles.ResourceUsesAsync(ct);
        MayManage = await HttpContext.HoldsAsync(Privileges.ManageResources);
    }

    private static List<string> Split(string? actions)
        => [.. (actions ?? "").Split([',', ' ', ';', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(a => a.Trim().ToLowerInvariant()).Distinct()];
}
