using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Groups;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Groups;

/// <summary>Create, change or delete a group: its roles and its members, through <see cref="GroupService"/>.</summary>
[RequiresPrivilege(Core.Access.Privileges.ViewUsers)]
[RequiresPrivilege(Core.Access.Privileges.ManageGroups, OnlyFor = "POST")]
[Mfa.RequiresStepUp]
public sealed class GroupModel(GroupService groups, RoleService roles, UserSearch search) : PageModel
{
    /// <summary>The signed-in user's privileges: the most that a group they change may give its members.</summary>
    private IReadOnlySet<string> _ceiling = new HashSet<string>();

    [BindProperty(SupportsGet = true)] public string Id { get; set; } = "new";

    [BindProperty] public string? Name { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public List<string> Roles { get; set; } = [];

    /// <summary>The members to keep (their ids).</summary>
    [BindProperty] public List<Guid> Members { get; set; } = [];

    /// <summary>The "valid from" and "valid until" inputs of each member, keyed by the member's id.</summary>
    [BindProperty] public List<ValidityField> MemberValidity { get; set; } = [];

    /// <summary>Usernames to add, separated by commas, spaces or lines.</summary>
    [BindProperty] public string? AddMembers { get; set; }
    [BindProperty] public bool ConfirmDelete { get; set; }

    public GroupResponse? Existing { get; private set; }

    public IReadOnlyList<RoleResponse> AllRoles { get; private set; } = [];

    public bool MayManage { get; private set; }

    /// <summary>
    /// The role checkboxes. A role the group does not have and whose privileges go beyond the signed-in
    /// user's own is disabled, with the reason: every member would get them.
    /// </summary>
    public IReadOnlyList<RoleToggle> RoleToggles => Toggles.Roles(AllRoles, Roles, Existing?.Roles ?? [], MayManage ? _ceiling : null);

    public bool IsNew => Existing is null;

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        Fill();
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        var ids = new List<Guid>(Members);
        foreach (var username in (AddMembers ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var found = await search.SearchAsync(new UserQuery(Username: username, Limit: 10), HttpContext.RequestAborted);
            var user = found.Value?.Items.FirstOrDefault(u => Usernames.Normalize(u.Username) == Usernames.Normalize(username));
            if (user is null)
            {
                ModelState.AddModelError(nameof(AddMembers), $"No user has the username '{username}'.");
            }
            else if (!ids.Contains(user.Id))
            {
                ids.Add(user.Id);
            }
        }

        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        // Each member with the range its row shows (one left as loaded stays exactly as stored); a member just added holds for good.
        List<Tessera.Server.Governance.MemberAssignment> members = [.. ids.Select(id =>
        {
            var stored = Existing?.Members.FirstOrDefault(m => m.Id == id) is { } m ? new Core.Governance.Validity(m.ValidFrom, m.ValidUntil) : Core.Governance.Validity.Always;
            var validity = ValidityFields.Read(MemberValidity, id.ToString(), stored, ModelState, nameof(AddMembers));
            return new Tessera.Server.Governance.MemberAssignment(id, validity.From, validity.Until);
        })];
        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var request = new GroupRequest(Name, Description ?? "", Roles, members);
        var outcome = Existing is null
            ? await groups.CreateAsync(request, HttpContext.RequestAborted)
            : await groups.UpdateAsync(Existing.Id, request, HttpContext.RequestAborted);
        if (outcome.Failure.SentForApproval(TempData))
        {
            return Redirect(Existing is null ? "/admin/groups" : $"/admin/groups/{Existing.Id}");
        }

        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState, ("userIds", nameof(AddMembers)));
            Response.StatusCode = outcome.Failure!.FormStatus();
            return Page();
        }

        TempData["Notice"] = Existing is null ? $"Group {outcome.Value!.Name} was created." : $"Group {outcome.Value!.Name} was saved.";
        return Redirect($"/admin/groups/{outcome.Value.Id}");
    }

    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (!await LoadAsync() || Existing is null)
        {
            return NotFound();
        }

        Fill();
        if (!ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), "Tick the box to confirm that the group is to be deleted.");
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (await groups.DeleteAsync(Existing.Id, HttpContext.RequestAborted) is { } failure)
        {
            failure.AddTo(ModelState);
            Response.StatusCode = failure.Kind == FailureKind.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status409Conflict;
            return Page();
        }

        TempData["Notice"] = $"Group {Existing.Name} was deleted.";
        return Redirect("/admin/groups");
    }

    private void Fill()
    {
        if (Existing is { } group)
        {
            Name = group.Name;
            Description = group.Description;
            Roles = [.. group.Roles];
            Members = [.. group.Members.Select(m => m.Id)];
            MemberValidity = [.. group.Members.Select(m => new ValidityField { Key = m.Id.ToString(), From = ValidityFields.Text(m.ValidFrom), Until = ValidityFields.Text(m.ValidUntil) })];
        }
    }

    private async Task<bool> LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (Id != "new")
        {
            if (!Guid.TryParse(Id, out var id) || await groups.GetAsync(id, ct) is not { Succeeded: true } found)
            {
                return false;
            }

            Existing = found.Value;
        }

        AllRoles = await roles.ListAsync(ct);
        _ceiling = (await HttpContext.CallerAsync())?.Privileges ?? new HashSet<string>();
        MayManage = _ceiling.Contains(Core.Access.Privileges.ManageGroups);
        return true;
    }
}
