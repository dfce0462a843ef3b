using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Customers;
using Tessera.Server.AgentAssist;
using Tessera.Server.ApiCredentials;
using Tessera.Server.Credentials;
using Tessera.Server.Customers;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Users;

/// <summary>
/// One user: edit details, change roles, set a password, invite, unlock, delete, an API user's credentials, and why they may do what they may.
/// The page offers only what the delegation rules let the signed-in user do (<see cref="Delegation"/>); the
/// services judge every change again and their refusals show beside the form.
/// </summary>
[RequiresPrivilege(Privileges.ViewUsers)]
[RequiresPrivilege(Privileges.ManageUsers, OnlyFor = "POST")]
[Mfa.RequiresStepUp("Roles", "Password", "Delete", "ResetMfa", "AddCredential")]
public sealed class DetailsModel(UserService users, RoleService roles, CredentialService credentials, AgentScopeService agentScopes, CustomerService customers, CustomerSearch customerSearch, Tessera.Server.SignIn.SessionService sessions, Mfa.MfaMethods mfa, ApiCredentialService apiCredentials, Tessera.Server.Groups.GroupService groups, TimeProvider clock, Microsoft.Extensions.Localization.IStringLocalizer<Localization.SharedText> Text) : PageModel
{
    [BindProperty(SupportsGet = true)] public Guid Id { get; set; }

    [BindProperty] public string? Username { get; set; }
    [BindProperty] public string? Email { get; set; }
    [BindProperty] public string? FirstName { get; set; }
    [BindProperty] public string? LastName { get; set; }
    [BindProperty] public bool Enabled { get; set; }
    [BindProperty] public List<string> Roles { get; set; } = [];

    /// <summary>The groups ticked in the groups form (their ids).</summary>
    [BindProperty] public List<Guid> Groups { get; set; } = [];

    /// <summary>The "valid from" and "valid until" inputs of each role row, keyed by role name.</summary>
    [BindProperty] public List<ValidityField> RoleValidity { get; set; } = [];
    [BindProperty] public string? NewPassword { get; set; }
    [BindProperty] public string? ConfirmPassword { get; set; }
    [BindProperty] public bool ConfirmDelete { get; set; }
    [BindProperty] public string? AgentScope { get; set; }
    [BindProperty] public List<Guid> AssignedCustomers { get; set; } = [];
    [BindProperty] public string? AddCustomers { get; set; }
    [BindProperty] public Guid? SessionId { get; set; }

    // The Credentials card of API users: a new credential, or the one to delete.
    [BindProperty] public string? CredentialName { get; set; }
    // Nullable, as every bound property here: a non-nullable one would be implicitly required, and the other forms' ModelState would fail without it.
    [BindProperty] public string? CredentialType { get; set; }
    [BindProperty] public string? CredentialExpires { get; set; }
    [BindProperty] public string? Pem { get; set; }
    [BindProperty] public Guid? CredentialId { get; set; }

    /// <summary>An API user's credentials (the Credentials card); never a secret.</summary>
    public IReadOnlyList<ApiCredentialResponse> ApiCredentials { get; private set; } = [];

    /// <summary>The credential just added, in the answer to the POST that added it: its secret is shown this once and kept nowhere.</summary>
    public ApiCredentialResponse? AddedCredential { get; private set; }

    /// <summary>The time the page was made, for "expired" and "expires in 5 days".</summary>
    public DateTime Now { get; private set; }

    /// <summary>The subject's open Back Office sessions (the Sessions card).</summary>
    public IReadOnlyList<Tessera.Server.SignIn.SessionResponse> Sessions { get; private set; } = [];

    public UserResponse Subject { get; private set; } = null!;

    public IReadOnlyList<RoleResponse> AllRoles { get; private set; } = [];

    public PermissionsResponse? Permissions { get; private set; }

    /// <summary>The signed-in user holds MANAGE_USERS.</summary>
    public bool MayManage { get; private set; }

    /// <summary>The subject is the signed-in user: no delete, no disabling, no administrator's password form.</summary>
    public bool IsSelf { get; private set; }

    /// <summary>The privileges the subject holds and the signed-in user does not; any at all and the account is out of reach.</summary>
    public IReadOnlyList<string> Outranking { get; private set; } = [];

    /// <summary>The signed-in user may change this account: a user manager whose privileges cover the subject's.</summary>
    public bool MayChange => MayManage && Outranking.Count == 0;

    /// <summary>The role checkboxes, with the ones beyond the signed-in user's privileges disabled.</summary>
    public IReadOnlyList<RoleToggle> RoleToggles { get; private set; } = [];

    /// <summary>Each role row of the roles editor: its checkbox, the grant as stored (null when not held), and its validity inputs.</summary>
    public IReadOnlyList<(RoleToggle Toggle, AssignmentResponse? Held, ValidityField Field)> RoleRows { get; private set; } = [];

    /// <summary>One group checkbox: disabled, with the privileges beyond the caller's own, when joining it would hand them out.</summary>
    public sealed record GroupRow(Guid Id, string Name, IReadOnlyList<string> Beyond)
    {
        public bool Disabled => Beyond.Count > 0;
    }

    /// <summary>Every group, for the groups form; the ones the subject is in are ticked.</summary>
    public IReadOnlyList<GroupRow> GroupRows { get; private set; } = [];

    /// <summary>The signed-in user may change the subject's memberships: MANAGE_GROUPS, and the account within reach.</summary>
    public bool MayChangeGroups { get; private set; }

    /// <summary>The agent's assigned customers (id and reference), for BackOffice users.</summary>
    public IReadOnlyList<(Guid Id, string Reference, string Name)> Assigned { get; private set; } = [];

    /// <summary>Which form a failure belongs to, so that its messages show beside that form.</summary>
    public string? FailedForm { get; private set; }

    public async Task<IActionResult> OnGetAsync() => await ShowAsync(fillForm: true);

    public async Task<IActionResult> OnPostUpdateAsync()
    {
        var current = await users.GetAsync(Id, HttpContext.RequestAborted);
        if (!current.Succeeded)
        {
            return NotFound();
        }

        // One's own Enabled box is not offered (a disabled checkbox is never posted): it leaves the status alone.
        var self = await HttpContext.CallerAsync() is { } caller && caller.Id == Id;
        string? status = null;
        if (!self && !Enabled && current.Value!.Status != "disabled")
        {
            status = "disabled";
        }
        else if (!self && Enabled && current.Value!.Status == "disabled")
        {
            status = "active";
        }

        var outcome = await users.UpdateAsync(Id, new UpdateUserRequest(Username, Email, FirstName, LastName, status, null, null), HttpContext.RequestAborted);
        return await AfterAsync(outcome.Failure, "details", Text["The user's details were saved."], fillForm: false);
    }

    public async Task<IActionResult> OnPostRolesAsync()
    {
        var ct = HttpContext.RequestAborted;
        if ((await users.GetAsync(Id, ct)).Value is not { } current)
        {
            return NotFound();
        }

        // Each ticked role with the range its row shows; a range left as loaded stays exactly as stored.
        var unreadable = new Microsoft.AspNetCore.Mvc.ModelBinding.ModelStateDictionary();
        List<Tessera.Server.Governance.RoleAssignment> wanted = [.. Roles.Select(name =>
        {
            var held = current.RoleAssignments.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase));
            var validity = ValidityFields.Read(RoleValidity, name, held is null ? Core.Governance.Validity.Always : new(held.ValidFrom, held.ValidUntil), unreadable, "roles");
            return new Tessera.Server.Governance.RoleAssignment(name, validity.From, validity.Until);
        })];
        if (unreadable.ErrorCount > 0)
        {
            var messages = unreadable.Values.SelectMany(v => v.Errors).Select(e => e.ErrorMessage).ToArray();
            return await AfterAsync(Failure.Invalid("validation_failed", string.Join(" ", messages), new Dictionary<string, string[]> { ["roles"] = messages }), "roles", "");
        }

        var outcome = await users.ChangeRolesAsync(Id, new ChangeRolesRequest(wanted), ct);
        return await AfterAsync(outcome.Failure, "roles", Text["The roles were changed."]);
    }

    /// <summary>
    /// Joins and leaves groups: each group whose membership changes gets its member list with the subject added or removed,
    /// through the group's own use case (so the delegation rules and invariants judge it as on the group's page). A
    /// membership kept keeps its validity.
    /// </summary>
    public async Task<IActionResult> OnPostGroupsAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (!await HttpContext.HoldsAsync(Privileges.ManageGroups))
        {
            return Forbid();
        }

        if ((await users.GetAsync(Id, ct)).Value is not { } current)
        {
            return NotFound();
        }

        var all = await groups.NamesAsync(ct);
        var member = all.Where(g => current.Groups.Contains(g.Name)).Select(g => g.Id).ToHashSet();
        var wanted = Groups.Where(id => all.Any(g => g.Id == id)).ToHashSet();
        foreach (var (groupId, _) in all.Where(g => member.Contains(g.Id) != wanted.Contains(g.Id)))
        {
            if ((await groups.GetAsync(groupId, ct)).Value is not { } group)
            {
                continue;
            }

            List<Tessera.Server.Governance.MemberAssignment> members = [.. group.Members.Where(m => m.Id != Id)
                .Select(m => new Tessera.Server.Governance.MemberAssignment(m.Id, m.ValidFrom, m.ValidUntil))];
            if (wanted.Contains(groupId))
            {
                members.Add(new Tessera.Server.Governance.MemberAssignment(Id));
            }

            var outcome = await groups.ChangeMembersAsync(groupId, new Tessera.Server.Groups.GroupMembersRequest(members), ct);
            if (outcome.Failure is { } failure && !failure.SentForApproval(TempData))
            {
                return await AfterAsync(failure, "groups", "");
            }
        }

        return TempData.ContainsKey(FailureDisplay.ChangeRequestKey)
            ? Redirect($"/admin/users/{Id}")
            : await AfterAsync(null, "groups", Text["The groups were changed."]);
    }

    public async Task<IActionResult> OnPostPasswordAsync()
    {
        var failure = await credentials.AdminSetAsync(Id, new PasswordRequest(NewPassword, ConfirmPassword), HttpContext.RequestAborted);
        return await AfterAsync(failure, "password", Text["The password was changed."]);
    }

    /// <summary>Agent assist: the scope, the ticked customers kept and the references typed in added.</summary>
    public async Task<IActionResult> OnPostAgentAsync()
    {
        var ct = HttpContext.RequestAborted;
        var wanted = new List<Guid>(AssignedCustomers);
        foreach (var reference in (AddCustomers ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var found = await FindCustomerAsync(reference, ct);
            if (found is null)
            {
                ModelState.AddModelError(nameof(AddCustomers), Text["No customer has the reference {0}.", reference]);
                continue;
            }

            wanted.Add(found.Value);
        }

        if (!ModelState.IsValid)
        {
            FailedForm = "agent";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return await ShowAsync(fillForm: true);
        }

        var outcome = await agentScopes.ChangeAsync(Id, new ChangeAgentCustomersRequest(AgentScope, wanted), ct);
        if (outcome.Failure is { } failure && failure.Kind != FailureKind.NotFound)
        {
            failure.AddTo(ModelState, ("scope", nameof(AgentScope)), ("customerIds", nameof(AddCustomers)));
            FailedForm = "agent";
            Response.StatusCode = failure.FormStatus();
            return await ShowAsync(fillForm: true);
        }

        return await AfterAsync(outcome.Failure, "agent", Text["The agent's customers were saved."]);
    }

    public async Task<IActionResult> OnPostInviteAsync()
        => await AfterAsync(await credentials.SendInvitationAsync(Id, HttpContext.RequestAborted), "invite", Text["A new invitation email is on its way."]);

    public async Task<IActionResult> OnPostUnlockAsync()
        => await AfterAsync(await credentials.UnlockAsync(Id, HttpContext.RequestAborted), "unlock", Text["The user was unlocked."]);

    /// <summary>The user's enrolled second factors, for the MFA card.</summary>
    public IReadOnlyList<Mfa.MfaMethodResponse> MfaMethods { get; private set; } = [];

    public async Task<IActionResult> OnPostResetMfaAsync()
        => await AfterAsync(await mfa.ResetAsync(Id, HttpContext.RequestAborted), "mfa", Text["The user's second factors were removed and their sessions ended; they set up a new one at their next sign-in."]);

    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (!ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the user is to be deleted."]);
            FailedForm = "delete";
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return await ShowAsync(fillForm: true);
        }

        var current = await users.GetAsync(Id, HttpContext.RequestAborted);
        var failure = await users.DeleteAsync(Id, HttpContext.RequestAborted);
        if (failure.SentForApproval(TempData))
        {
            return Redirect($"/admin/users/{Id}");
        }

        if (failure is not null)
        {
            return await AfterAsync(failure, "delete", "");
        }

        TempData["Notice"] = Text["User {0} was deleted.", current.Value?.Username ?? ""].Value;
        return Redirect("/admin/users");
    }

    /// <summary>Ends one session (the row's End button); one that ended meanwhile is no error here, the card simply no longer lists it.</summary>
    public async Task<IActionResult> OnPostEndSessionAsync()
    {
        var failure = SessionId is { } one ? await sessions.EndAsync(Id, one, HttpContext.RequestAborted) : null;
        return failure?.Code == Tessera.Server.SignIn.SessionService.NotFoundCode
            ? await AfterAsync(null, "sessions", Text["That session had already ended."])
            : await AfterAsync(failure, "sessions", Text["The session was ended."]);
    }

    public async Task<IActionResult> OnPostEndSessionsAsync()
        => await AfterAsync(await sessions.EndAsync(Id, null, HttpContext.RequestAborted), "sessions", Text["Every session of the user was ended."]);

    /// <summary>
    /// Adds a generated secret or a public key. The answer is the page itself, not a redirect: a generated secret is
    /// shown in it once, and is stored nowhere it could be shown from again (the database keeps only its hash).
    /// </summary>
    public async Task<IActionResult> OnPostAddCredentialAsync()
    {
        var ct = HttpContext.RequestAborted;
        DateTimeOffset? expires = null;
        if (!string.IsNullOrWhiteSpace(CredentialExpires))
        {
            // A date input's value: the credential stops working at the start of that day, UTC.
            if (DateOnly.TryParseExact(CredentialExpires.Trim(), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var day))
            {
                expires = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            }
            else
            {
                ModelState.AddModelError(nameof(CredentialExpires), Text["Enter the expiry as a date, YYYY-MM-DD, or leave it empty for none."]);
                return await CredentialRefusedAsync(StatusCodes.Status400BadRequest);
            }
        }

        var isKey = Tessera.Core.Credentials.ApiCredentialRules.TryParseType(CredentialType, out var type) && type == Tessera.Core.Credentials.ApiCredentialType.PublicKey;
        var added = await apiCredentials.AddAsync(Id, new CreateApiCredentialRequest(CredentialName, CredentialType, expires, null, isKey ? Pem : null), ct);
        if (added.Failure is { } failure)
        {
            if (failure.Kind == FailureKind.NotFound)
            {
                return NotFound();
            }

            failure.AddTo(ModelState, ("name", nameof(CredentialName)), ("type", nameof(CredentialType)), ("expiresAt", nameof(CredentialExpires)), ("jwk", nameof(Pem)), ("pem", nameof(Pem)));
            return await CredentialRefusedAsync(failure.FormStatus());
        }

        AddedCredential = added.Value;
        Response.Headers.CacheControl = "no-store";
        ModelState.Clear();
        (CredentialName, CredentialExpires, Pem, CredentialType) = (null, null, null, null);
        return await ShowAsync(fillForm: true);
    }

    public async Task<IActionResult> OnPostDeleteCredentialAsync()
    {
        var ct = HttpContext.RequestAborted;
        var name = CredentialId is { } id ? (await apiCredentials.ListAsync(Id, ct)).Value?.FirstOrDefault(c => c.Id == id)?.Name : null;
        var failure = CredentialId is { } one ? await apiCredentials.DeleteAsync(Id, one, ct) : null;
        if (failure?.Kind == FailureKind.NotFound && (await users.GetAsync(Id, ct)).Succeeded)
        {
            // Deleted meanwhile (another tab, another administrator): the card simply no longer lists it.
            return await AfterAsync(null, "credentials", Text["That credential had already been deleted."]);
        }

        return await AfterAsync(failure, "credentials", Text["The credential {0} was deleted; it authenticates nothing from now on.", name ?? ""]);
    }

    private async Task<IActionResult> CredentialRefusedAsync(int status)
    {
        FailedForm = "credentials";
        Response.StatusCode = status;
        return await ShowAsync(fillForm: true);
    }

    private async Task<IActionResult> AfterAsync(Failure? failure, string form, string notice, bool fillForm = true)
    {
        if (failure is null)
        {
            TempData["Notice"] = notice;
            return Redirect($"/admin/users/{Id}");
        }

        if (failure.SentForApproval(TempData))
        {
            return Redirect($"/admin/users/{Id}");
        }

        if (failure.Kind == FailureKind.NotFound)
        {
            return NotFound();
        }

        failure.AddTo(ModelState);
        FailedForm = form;
        Response.StatusCode = failure.FormStatus();
        return await ShowAsync(fillForm);
    }

    private async Task<Guid?> FindCustomerAsync(string reference, CancellationToken ct)
    {
        if (CustomerRules.ValidateReference(reference) is not null)
        {
            return null;
        }

        var normalized = CustomerRules.NormalizeReference(reference);
        var page = await customerSearch.SearchAsync(new CustomerQuery(reference.Trim(), Limit: CustomerSearch.MaxLimit), ct);
        return page.Value?.Items.FirstOrDefault(c => CustomerRules.NormalizeReference(c.Reference) == normalized)?.Id;
    }

    private async Task<IActionResult> ShowAsync(bool fillForm)
    {
        var ct = HttpContext.RequestAborted;
        var user = await users.GetAsync(Id, ct);
        if (!user.Succeeded)
        {
            return NotFound();
        }

        Subject = user.Value!;
        var caller = await HttpContext.CallerAsync();
        var ceiling = caller?.Privileges ?? new HashSet<string>();
        MayManage = ceiling.Contains(Privileges.ManageUsers);
        IsSelf = caller?.Id == Subject.Id;
        AllRoles = await roles.ListAsync(ct);
        Permissions = (await users.PermissionsAsync(Id, ct)).Value;
        Outranking = IsSelf ? [] : Delegation.Beyond(ceiling, Permissions?.Privileges.Select(p => p.Name) ?? []);
        if (fillForm)
        {
            Username = Subject.Username;
            Email = Subject.Email;
            FirstName = Subject.FirstName;
            LastName = Subject.LastName;
            Enabled = Subject.Status != "disabled";
        }

        if (FailedForm != "roles")
        {
            Roles = [.. Subject.Roles];
        }

        // The System role marks API users: a BackOffice user can never hold it, so it is not offered to one.
        RoleToggles = [.. Toggles.Roles(AllRoles, Roles, Subject.Roles, MayChange ? ceiling : null)
            .Where(t => !t.IsSystem || Subject.Type == "api" || Subject.Roles.Contains(t.Name))];
        MayChangeGroups = MayChange && ceiling.Contains(Privileges.ManageGroups);
        var allGroups = await groups.ListAsync(ct);
        var privilegesOfRole = AllRoles.ToDictionary(r => r.Name, r => r.Privileges, StringComparer.OrdinalIgnoreCase);
        GroupRows = [.. allGroups.OrderBy(g => g.Name, StringComparer.OrdinalIgnoreCase).Select(g => new GroupRow(g.Id, g.Name,
            !MayChangeGroups || Subject.Groups.Contains(g.Name) ? []
                : Delegation.Beyond(ceiling, g.Roles.SelectMany(r => privilegesOfRole.GetValueOrDefault(r) ?? []))))];
        if (FailedForm != "groups")
        {
            Groups = [.. allGroups.Where(g => Subject.Groups.Contains(g.Name)).Select(g => g.Id)];
        }
        RoleRows = [.. RoleToggles.Select(toggle =>
        {
            var held = Subject.RoleAssignments.FirstOrDefault(a => a.Name == toggle.Name);
            var field = (FailedForm == "roles" ? RoleValidity.FirstOrDefault(f => f.Key == toggle.Name) : null)
                ?? new ValidityField { Key = toggle.Name, From = ValidityFields.Text(held?.ValidFrom), Until = ValidityFields.Text(held?.ValidUntil) };
            return (toggle, held, field);
        })];
        Sessions = (await sessions.ListAsync(Id, ct)).Value ?? [];
        MfaMethods = Subject.Type == "backoffice" ? await mfa.ListAsync(Id, ct) : [];
        Now = clock.GetUtcNow().UtcDateTime;
        ApiCredentials = Subject.Type == "api" ? (await apiCredentials.ListAsync(Id, ct)).Value ?? [] : [];

        if (Subject.Type == "backoffice" && (await agentScopes.GetAsync(Id, ct)).Value is { } scope)
        {
            if (FailedForm != "agent")
            {
                AgentScope = scope.Scope;
            }

            var assigned = new List<(Guid, string, string)>();
            foreach (var customerId in scope.CustomerIds)
            {
                if ((await customers.GetAsync(customerId, ct)).Value is { } c)
                {
                    assigned.Add((c.Id, c.Reference, $"{c.FirstName} {c.LastName}"));
                }
            }

            Assigned = [.. assigned.OrderBy(a => a.Item2, StringComparer.OrdinalIgnoreCase)];
        }

        return Page();
    }
}
