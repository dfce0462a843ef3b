using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Users;

/// <summary>"Add user": the form of <see cref="UserService.CreateAsync"/>; the service decides every rule.</summary>
[RequiresPrivilege(Privileges.ManageUsers)]
[Mfa.RequiresStepUp]
public sealed class NewModel(UserService users, RoleService roles, Tessera.Server.Groups.GroupService groups, Microsoft.Extensions.Localization.IStringLocalizer<Localization.SharedText> Text) : PageModel
{
    [BindProperty] public string Type { get; set; } = "backoffice";
    [BindProperty] public string? Username { get; set; }
    [BindProperty] public string? Email { get; set; }
    [BindProperty] public string? FirstName { get; set; }
    [BindProperty] public string? LastName { get; set; }
    [BindProperty] public string CredentialMode { get; set; } = "password";
    [BindProperty] public List<string> Roles { get; set; } = [];
    [BindProperty] public string? Password { get; set; }

    /// <summary>The groups the new user joins (names).</summary>
    [BindProperty] public List<string> Groups { get; set; } = [];

    /// <summary>Every group's name, for the group checkboxes.</summary>
    public IReadOnlyList<string> GroupNames { get; private set; } = [];

    /// <summary>The role checkboxes; a role beyond the signed-in user's own privileges is disabled and says why.</summary>
    public IReadOnlyList<RoleToggle> RoleToggles { get; private set; } = [];

    public async Task OnGetAsync() => await LoadRolesAsync();

    public async Task<IActionResult> OnPostAsync()
    {
        var created = await users.CreateAsync(new CreateUserRequest(Username, Email, FirstName, LastName, Type, CredentialMode, [.. Roles.Select(r => (Tessera.Server.Governance.RoleAssignment)r)], Groups.Count == 0 ? null : Groups,
            string.IsNullOrEmpty(Password) ? null : Password), HttpContext.RequestAborted);
        if (created.Succeeded)
        {
            TempData["Notice"] = created.Value!.Type switch
            {
                "backoffice" when created.Value.CredentialMode == "password" => Text["User {0} was created and an invitation email is on its way.", created.Value.Username].Value,
                "api" when string.IsNullOrEmpty(Password) => Text["User {0} was created. Add its first credential below: a secret that Tessera generates, or a public key.", created.Value.Username].Value,
                _ => Text["User {0} was created.", created.Value.Username].Value,
            };
            return Redirect($"/admin/users/{created.Value.Id}");
        }

        if (created.Failure.SentForApproval(TempData))
        {
            return Redirect("/admin/users");
        }

        created.Failure!.AddTo(ModelState, ("newPassword", "Password"));
        await LoadRolesAsync();
        Response.StatusCode = created.Failure!.FormStatus();
        return Page();
    }

    private async Task LoadRolesAsync()
    {
        var ceiling = (await HttpContext.CallerAsync())?.Privileges ?? new HashSet<string>();
        GroupNames = [.. (await groups.NamesAsync(HttpContext.RequestAborted)).Select(g => g.Name)];

        // System is ticked for an API user: the server gives it to every one, and it holds no privilege.
        List<string> ticked = Type == "api" ? [.. Roles, BuiltInRoles.System] : Roles;
        RoleToggles = [.. Toggles.Roles(await roles.ListAsync(HttpContext.RequestAborted), ticked, [], ceiling)
            .Select(t => t.IsSystem ? t with { Note = Text["API users only; always on for them"] } : t)];
    }
}
