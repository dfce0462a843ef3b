using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Groups;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Users;

/// <summary>
/// The users list: a filter form, sortable columns, a capped total, keyset paging both ways, all through
/// <see cref="UserSearch"/>; and bulk actions over the ticked users through <see cref="BulkUserActions"/>, whose
/// per-user results the page shows.
/// </summary>
[RequiresPrivilege(Privileges.ViewUsers)]
[RequiresPrivilege(Privileges.ManageUsers, OnlyFor = "POST")]
[Mfa.RequiresStepUp("Bulk")]
public sealed class IndexModel(UserSearch search, BulkUserActions bulk, RoleService roles, GroupService groups, Microsoft.Extensions.Localization.IStringLocalizer<Localization.SharedText> Text) : PageModel
{
    public const int PageSize = 25;

    [BindProperty(SupportsGet = true)] public string? Id { get; set; }
    [BindProperty(SupportsGet = true)] public string? Username { get; set; }
    [BindProperty(SupportsGet = true)] public string? FirstName { get; set; }
    [BindProperty(SupportsGet = true)] public string? LastName { get; set; }
    [BindProperty(SupportsGet = true)] public string? Email { get; set; }
    [BindProperty(SupportsGet = true)] public string? Role { get; set; }
    [BindProperty(SupportsGet = true)] public string? Group { get; set; }
    [BindProperty(SupportsGet = true)] public string? Type { get; set; }
    [BindProperty(SupportsGet = true)] public string? Status { get; set; }
    [BindProperty(SupportsGet = true)] public string? Q { get; set; }
    [BindProperty(SupportsGet = true)] public string? Sort { get; set; }
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    // The bulk form: the action, the ticked users, the role of add_role and remove_role, the confirmation of delete.
    [BindProperty] public string? BulkAction { get; set; }
    [BindProperty] public List<Guid> UserIds { get; set; } = [];
    [BindProperty] public string? BulkRole { get; set; }
    [BindProperty] public bool ConfirmDelete { get; set; }

    public IReadOnlyList<UserResponse> Users { get; private set; } = [];

    public string? NextCursor { get; private set; }

    public string? PreviousCursor { get; private set; }

    /// <summary>The users matching, exact up to <see cref="UserSearch.TotalCap"/>.</summary>
    public int? Total { get; private set; }

    public bool TotalExact { get; private set; }

    public bool MayManage { get; private set; }

    public IReadOnlyList<string> RoleNames { get; private set; } = [];

    public IReadOnlyList<string> GroupNames { get; private set; } = [];

    /// <summary>The outcome of each user of the bulk action just run, in the order of the list.</summary>
    public IReadOnlyList<BulkUserResult>? Results { get; private set; }

    public static IReadOnlyList<string> Statuses => ["invited", "active", "locked", "disabled"];

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostBulkAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (UserIds.Count == 0)
        {
            ModelState.AddModelError(nameof(UserIds), Text["Tick at least one user."]);
        }
        else if (BulkAction == "delete" && !ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the selected users are to be deleted."]);
        }

        if (ModelState.IsValid)
        {
            var roleAction = BulkAction is "add_role" or "remove_role";
            var outcome = await bulk.RunAsync(new BulkUsersRequest(BulkAction, UserIds, roleAction ? BulkRole : null), ct);
            if (outcome.Succeeded)
            {
                Results = outcome.Value!.Results;
            }
            else
            {
                outcome.Failure!.AddTo(ModelState, ("action", nameof(BulkAction)), ("role", nameof(BulkRole)), ("userIds", nameof(UserIds)));
            }
        }

        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        MayManage = await HttpContext.HoldsAsync(Privileges.ManageUsers);
        RoleNames = [.. (await roles.ListAsync(ct)).Select(r => r.Name)];
        GroupNames = [.. (await groups.NamesAsync(ct)).Select(g => g.Name)];
        var page = await search.SearchAsync(new UserQuery(Blank(Id), Blank(Username), Blank(FirstName), Blank(LastName), Blank(Email), Blank(Role),
            Blank(Group), Blank(Type), Blank(Status), Blank(Q), Sort: Blank(Sort), Limit: PageSize, Cursor: Blank(Cursor), IncludeTotal: true), ct);
        if (!page.Succeeded)
        {
            ModelState.AddModelError(string.Empty, page.Failure!.Detail);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Users = page.Value!.Items;
        NextCursor = page.Value.NextCursor;
        PreviousCursor = page.Value.PreviousCursor;
        Total = page.Value.Total;
        TotalExact = page.Value.TotalExact == true;
    }

    /// <summary>The link of a column header: ascending first, then toggling; filters kept, paging restarted.</summary>
    public string SortLink(string field)
    {
        var next = Sort == field ? "-" + field : field;
        return Link(next, null);
    }

    public string SortState(string field) => Sort == field ? "ascending" : Sort == "-" + field ? "descending" : "none";

    /// <summary>This list with its filters, the sort given and the cursor given.</summary>
    public string Link(string? sort, string? cursor)
    {
        var query = new Dictionary<string, string?>
        {
            ["q"] = Blank(Q), ["status"] = Blank(Status), ["type"] = Blank(Type), ["group"] = Blank(Group), ["role"] = Blank(Role),
            ["id"] = Blank(Id), ["username"] = Blank(Username), ["firstName"] = Blank(FirstName), ["lastName"] = Blank(LastName),
            ["email"] = Blank(Email), ["sort"] = Blank(sort), ["cursor"] = cursor,
        };
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString("/admin/users", query.Where(p => p.Value is not null));
    }

    /// <summary>Where the bulk form posts: this very list (filters, sort and page kept), so that it shows again under the results.</summary>
    public string BulkLink
    {
        get
        {
            var list = Link(Sort, Blank(Cursor));
            return list + (list.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "handler=Bulk";
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
