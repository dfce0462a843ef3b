using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Governance;

namespace Tessera.Server.BackOffice.Pages.Admin.Reviews;

/// <summary>
/// A campaign: its progress, its items with Keep and Revoke for a reviewer, a filter by decision, paging, the Close
/// button for MANAGE_GOVERNANCE, each item's outcome after the close, and the report download. Every action is a call
/// to <see cref="AccessReviewService"/>, which judges who may do it.
/// </summary>
[Mfa.RequiresStepUp("Close")]
public sealed class ReviewModel(AccessReviewService reviews, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    public const int PageSize = 50;

    [BindProperty(SupportsGet = true)] public Guid Id { get; set; }

    [BindProperty(SupportsGet = true)] public string? Decision { get; set; }

    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    [BindProperty] public Guid ItemId { get; set; }

    [BindProperty] public string? Verdict { get; set; }

    [BindProperty] public string? Comment { get; set; }

    /// <summary>The pending items shown on the page, for "keep all on this page".</summary>
    [BindProperty] public List<Guid> PageItems { get; set; } = [];

    [BindProperty] public bool ConfirmClose { get; set; }

    public AccessReviewResponse Review { get; private set; } = null!;

    public IReadOnlyList<AccessReviewItemResponse> Items { get; private set; } = [];

    public string? NextCursor { get; private set; }

    public Guid ViewerId { get; private set; }

    public bool Governs { get; private set; }

    public bool IsReviewer { get; private set; }

    public bool IsOpen => Review.Status == AccessReviewStatus.Open;

    public bool MayDecide => IsReviewer && IsOpen;

    /// <summary>The items on this page a reviewer can keep at once: undecided, and not their own.</summary>
    public IEnumerable<AccessReviewItemResponse> Keepable => Items.Where(i => i.Decision is null && i.UserId != ViewerId);

    public async Task<IActionResult> OnGetAsync() => await LoadAsync() ?? Page();

    /// <summary>The completion report, streamed as it is read.</summary>
    public async Task<IActionResult> OnGetReportAsync(string? format)
    {
        var outcome = await reviews.ReportAsync(Id, HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            return Refused(outcome.Failure!);
        }

        var report = outcome.Value!;
        var json = string.Equals(format, "json", StringComparison.OrdinalIgnoreCase);
        Response.ContentType = json ? "application/json; charset=utf-8" : "text/csv; charset=utf-8";
        Response.Headers.ContentDisposition = $"attachment; filename=\"{report.FileName(json ? "json" : "csv")}\"";
        if (json)
        {
            await report.WriteJsonAsync(Response.Body, HttpContext.RequestAborted);
        }
        else
        {
            await report.WriteCsvAsync(Response.Body, HttpContext.RequestAborted);
        }

        return new EmptyResult();
    }

    public async Task<IActionResult> OnPostDecideAsync()
        => await DecideAsync([new AccessReviewDecision(ItemId, Verdict, Comment)], Verdict == AccessReviewStatus.Revoke ? Text["Marked revoke."] : Text["Marked keep."]);

    public async Task<IActionResult> OnPostKeepAllAsync()
        => await DecideAsync([.. PageItems.Select(id => new AccessReviewDecision(id, AccessReviewStatus.Keep, null))], Text["Kept {0} items.", PageItems.Count]);

    public async Task<IActionResult> OnPostCloseAsync()
    {
        if (!ConfirmClose)
        {
            ModelState.AddModelError(nameof(ConfirmClose), Text["Tick the box to confirm that the revocations are to be applied."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return await LoadAsync() ?? Page();
        }

        var outcome = await reviews.CloseAsync(Id, HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            return await ShowAsync(outcome.Failure!);
        }

        var closing = outcome.Value!.Closing!;
        TempData["Notice"] = Text["Review {0} was closed: {1} revoked, {2} sent for approval, {3} already removed, {4} failed, {5} not reviewed.",
            outcome.Value.Name, closing.Applied, closing.SentForApproval, closing.AlreadyRemoved, closing.Failed, closing.NotReviewed].Value;
        return Redirect($"/admin/reviews/{Id}");
    }

    private async Task<IActionResult> DecideAsync(List<AccessReviewDecision> decisions, LocalizedString notice)
    {
        var outcome = await reviews.DecideAsync(Id, new AccessReviewDecisionsRequest(decisions), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            return await ShowAsync(outcome.Failure!);
        }

        TempData["Notice"] = notice.Value;
        return Redirect($"/admin/reviews/{Id}" + QueryString.Create([
            .. Decision is null ? [] : new[] { KeyValuePair.Create("decision", (string?)Decision) },
            .. Cursor is null ? [] : new[] { KeyValuePair.Create("cursor", (string?)Cursor) }]));
    }

    private async Task<IActionResult> ShowAsync(Failure failure)
    {
        if (failure.Kind == FailureKind.NotFound)
        {
            return NotFound();
        }

        failure.AddTo(ModelState);
        Response.StatusCode = failure.FormStatus();
        return await LoadAsync() ?? Page();
    }

    private IActionResult Refused(Failure failure) => failure.Kind == FailureKind.NotFound ? NotFound() : RequiresPrivilegeAttribute.Forbidden();

    /// <summary>Loads the campaign and the page of items; the result to answer instead when it cannot be shown.</summary>
    private async Task<IActionResult?> LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        var found = await reviews.GetAsync(Id, ct);
        if (!found.Succeeded)
        {
            return Refused(found.Failure!);
        }

        Review = found.Value!;
        var viewer = await reviews.ViewerAsync(ct);
        ViewerId = viewer.Id;
        Governs = viewer.Governs;
        IsReviewer = Review.Reviewers.Any(r => r.Id == viewer.Id);
        var page = await reviews.ItemsAsync(Id, new AccessReviewItemQuery(Decision, PageSize, Cursor), ct);
        if (!page.Succeeded)
        {
            // A stale cursor or an unknown filter: show the first page of everything.
            page = await reviews.ItemsAsync(Id, new AccessReviewItemQuery(null, PageSize, null), ct);
            Decision = null;
            Cursor = null;
        }

        Items = page.Value!.Items;
        NextCursor = page.Value.NextCursor;
        return null;
    }
}
