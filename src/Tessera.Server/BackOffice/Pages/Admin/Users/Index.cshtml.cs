using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Users;

/// <summary>The users list: a filter row, sortable columns and keyset paging, all through <see cref="UserSearch"/>.</summary>
[RequiresPrivilege(Privileges.ViewUsers)]
public sealed class IndexModel(UserSearch search) : PageModel
{
    public const int PageSize = 25;

    [BindProperty(SupportsGet = true)] public string? Id { get; set; }
    [BindProperty(SupportsGet = true)] public string? Username { get; set; }
    [BindProperty(SupportsGet = true)] public string? FirstName { get; set; }
    [BindProperty(SupportsGet = true)] public string? LastName { get; set; }
    [BindProperty(SupportsGet = true)] public string? Email { get; set; }
    [BindProperty(SupportsGet = true)] public string? Role { get; set; }
    [BindProperty(SupportsGet = true)] public string? Sort { get; set; }
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    public IReadOnlyList<UserResponse> Users { get; private set; } = [];

    public string? NextCursor { get; private set; }

    public bool MayManage { get; private set; }

    public async Task OnGetAsync()
    {
        MayManage = await HttpContext.HoldsAsync(Privileges.ManageUsers);
        var page = await search.SearchAsync(new UserQuery(Blank(Id), Blank(Username), Blank(FirstName), Blank(LastName), Blank(Email), Blank(Role),
            Sort: Blank(Sort), Limit: PageSize, Cursor: Blank(Cursor)), HttpContext.RequestAborted);
        if (!page.Succeeded)
        {
            ModelState.AddModelError(string.Empty, page.Failure!.Detail);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        Users = page.Value!.Items;
        NextCursor = page.Value.NextCursor;
    }

    /// <summary>The link of a column header: ascending first, then toggling; filters kept, paging restarted.</summary>
    public string SortLink(string field)
    {
        var next = Sort == field ? "-" + field : field;
        return Link(next, null);
    }

    public string SortState(string field) => Sort == field ? "ascending" : Sort == "-" + field ? "descending" : "none";

    public string Link(string? sort, string? cursor)
    {
        var query = new Dictionary<string, string?>
        {
            ["id"] = Blank(Id), ["username"] = Blank(Username), ["firstName"] = Blank(FirstName), ["lastName"] = Blank(LastName),
            ["email"] = Blank(Email), ["role"] = Blank(Role), ["sort"] = Blank(sort), ["cursor"] = cursor,
        };
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString("/admin/users", query.Where(p => p.Value is not null));
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
