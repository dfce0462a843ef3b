using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Governance;
using Tessera.Server.Groups;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.BackOffice.Pages.Admin.Reviews;

/// <summary>
/// "My reviews": the campaigns the signed-in user reviews, with progress and due date. A holder of MANAGE_GOVERNANCE
/// also sees every campaign and creates new ones, through <see cref="AccessReviewService"/>.
/// </summary>
[RequiresPrivilege(Privileges.ManageGovernance, OnlyFor = "POST")]
public sealed class IndexModel(AccessReviewService reviews, RoleService roles, GroupService groups, UserSearch search, TimeProvider clock, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    [BindProperty] public string? Name { get; set; }
    [BindProperty] public List<string> Roles { get; set; } = [];
    [BindProperty] public List<string> Groups { get; set; } = [];

    /// <summary>Reviewers' usernames, separated by commas, spaces or lines.</summary>
    [BindProperty] public string? Reviewers { get; set; }

    /// <summary>The last day of the campaign (it is due at the end of that day, UTC).</summary>
    [BindProperty] public DateOnly? DueDate { get; set; }

    public IReadOnlyList<AccessReviewResponse> Mine { get; private set; } = [];

    public IReadOnlyList<AccessReviewResponse> All { get; private set; } = [];

    public IReadOnlyList<string> RoleNames { get; private set; } = [];

    public IReadOnlyList<string> GroupNames { get; private set; } = [];

    public bool Governs { get; private set; }

    public string DefaultDue => DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime.AddDays(14)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostAsync()
    {
        var ct = HttpContext.RequestAborted;
        var ids = new List<Guid>();
        foreach (var username in (Reviewers ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            var found = await search.SearchAsync(new UserQuery(Username: username, Limit: 10), ct);
            var user = found.Value?.Items.FirstOrDefault(u => Usernames.Normalize(u.Username) == Usernames.Normalize(username));
            if (user is null)
            {
                ModelState.AddModelError(nameof(Reviewers), Text["No user has the username '{0}'.", username]);
            }
            else if (!ids.Contains(user.Id))
            {
                ids.Add(user.Id);
            }
        }

        if (ModelState.IsValid)
        {
            DateTimeOffset? due = DueDate is { } day ? new DateTimeOffset(day.ToDateTime(TimeOnly.MaxValue), TimeSpan.Zero) : null;
            var outcome = await reviews.CreateAsync(new CreateAccessReviewRequest(Name, new AccessReviewScope(Roles, Groups), ids, due), ct);
            if (outcome.Succeeded)
            {
                TempData["Notice"] = Text["Review {0} was created with {1} items.", outcome.Value!.Name, outcome.Value.Progress.Total].Value;
                return Redirect($"/admin/reviews/{outcome.Value.Id}");
            }

            if (outcome.Failure!.Code is "unknown_reviewer" or "reviewer_not_eligible")
            {
                ModelState.AddModelError(nameof(Reviewers), outcome.Failure.Detail);
            }
            else
            {
                outcome.Failure.AddTo(ModelState, ("dueAt", nameof(DueDate)), ("scope", nameof(Roles)));
            }

            Response.StatusCode = outcome.Failure.FormStatus();
        }
        else
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        Governs = (await reviews.ViewerAsync(ct)).Governs;
        Mine = (await reviews.ListAsync(mine: true, ct)).Items;
        if (Governs)
        {
            All = (await reviews.ListAsync(mine: false, ct)).Items;
            RoleNames = [.. (await roles.ListAsync(ct)).Select(r => r.Name)];
            GroupNames = [.. (await groups.ListAsync(ct)).Select(g => g.Name)];
        }
    }
}
