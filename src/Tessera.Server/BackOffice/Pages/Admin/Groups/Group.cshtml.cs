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
public sealed class GroupModel(GroupService groups, RoleService roles, UserSearch search, UserService users, Microsoft.Extensions.Localization.IStringLocalizer<Localization.SharedText> Text) : PageModel
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

    /// <summary>The users picked from a search to join the group (their ids).</summary>
    [BindProperty] public List<Guid> AddMemberIds { get; set; } = [];

    /// <summary>The search for users to add: username, names or email contain it.</summary>
    [BindProperty] public string? Find { get; set; }

    /// <summary>The users the search found (members already in the group left out), and the ones picked earlier.</summary>
    public IReadOnlyList<UserResponse> Candidates { get; private set; } = [];

    /// <summary>The most users one search shows; a narrower term finds the rest.</summary>
    public const int CandidateLimit = 20;

    public bool Searched { get; private set; }
    [BindProperty] public bool ConfirmDelete { get; set; }

    public GroupResponse? Existing { get; private set; }

    public IReadOnlyList<RoleResponse> AllRoles { get; private set; } = [];

    public bool MayManage { get; private set; }

    /// <summary>
    /// The role checkboxes. A role the group does not have and whose privileges go beyond the signed-in
    /// user's own is disabled, with the reason: every member would get them.
    /// </summary>
    public IReadOnlyList<RoleToggle> RoleToggles => [.. Toggles.Roles(AllRoles, Roles, Existing?.Roles ?? [], MayManage ? _ceiling : null)
        // System is never offered: a BackOffice member could not hold it, and API users hold it already. A group that has it keeps showing it.
        .Where(t => !t.IsSystem || (Existing?.Roles.Contains(t.Name) ?? false))];

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
        ids.AddRange(AddMemberIds.Where(id => !ids.Contains(id)));

        // Each member with the range its row shows (one left as loaded stays exactly as stored); a member just added holds for good.
        List<Tessera.Server.Governance.MemberAssignment> members = [.. ids.Select(id =>
        {
            var stored = Existing?.Members.FirstOrDefault(m => m.Id == id) is { } m ? new Core.Governance.Validity(m.ValidFrom, m.ValidUntil) : Core.Governance.Validity.Always;
            var validity = ValidityFields.Read(MemberValidity, id.ToString(), stored, ModelState, nameof(AddMemberIds));
            return new Tessera.Server.Governance.MemberAssignment(id, validity.From, validity.Until);
        })];
        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            await LoadCandidatesAsync();
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
            outcome.Failure!.AddTo(ModelState, ("userIds", nameof(AddMemberIds)));
            Response.StatusCode = outcome.Failure!.FormStatus();
            await LoadCandidatesAsync();
            return Page();
        }

        TempData["Notice"] = Existing is null ? Text["Group {0} was created.", outcome.Value!.Name].Value : Text["Group {0} was saved.", outcome.Value!.Name].Value;
        return Redirect($"/admin/groups/{outcome.Value.Id}");
    }

    /// <summary>
    /// The member search: the form comes back as posted (nothing saved), with the users whose username, names or email
    /// contain the term to tick; the search itself is the users list's <c>q</c>, served by its index at any size.
    /// </summary>
    public async Task<IActionResult> OnPostFindAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        ModelState.Clear();
        await LoadCandidatesAsync();
        return Page();
    }

    private async Task LoadCandidatesAsync()
    {
        var ct = HttpContext.RequestAborted;
        var picked = new List<UserResponse>();
        foreach (var id in AddMemberIds.Distinct())
        {
            if ((await users.GetAsync(id, ct)).Value is { } user)
            {
                picked.Add(user);
            }
        }

        var found = new List<UserResponse>();
        if (!string.IsNullOrWhiteSpace(Find))
        {
            Searched = true;
            found = [.. (await search.SearchAsync(new UserQuery(Q: Find.Trim(), Limit: CandidateLimit), ct)).Value?.Items ?? []];
        }

        var members = Existing?.Members.Select(m => m.Id).ToHashSet() ?? [];
        Candidates = [.. picked.Concat(found).DistinctBy(u => u.Id).Where(u => !members.Contains(u.Id))];
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
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the group is to be deleted."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (await groups.DeleteAsync(Existing.Id, HttpContext.RequestAborted) is { } failure)
        {
            failure.AddTo(ModelState);
            Response.StatusCode = failure.Kind == FailureKind.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status409Conflict;
            return Page();
        }

        TempData["Notice"] = Text["Group {0} was deleted.", Existing.Name].Value;
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
