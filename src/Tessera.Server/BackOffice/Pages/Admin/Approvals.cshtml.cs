using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>
/// Four-eyes approval in the Back Office: the change requests (pending ones unless another status is asked for), each
/// with a readable diff of what it would change; a checker approves or rejects with a comment, the maker withdraws.
/// Every decision is <see cref="ChangeRequestService"/>'s, as over the REST API. A user without APPROVE_CHANGES or
/// MANAGE_GOVERNANCE sees the requests they made.
/// </summary>
public sealed class ApprovalsModel(ChangeRequestService requests, TesseraDbContext db, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    /// <summary>pending (the default), approved, rejected, failed, expired, withdrawn, or "all".</summary>
    [BindProperty(SupportsGet = true)] public string? Status { get; set; }

    /// <summary>A request to show first (the link of a notice or a mail).</summary>
    [BindProperty(SupportsGet = true, Name = "id")] public Guid? Highlight { get; set; }

    [BindProperty] public Guid RequestId { get; set; }

    [BindProperty] public string? Comment { get; set; }

    public IReadOnlyList<ChangeRequestResponse> Requests { get; private set; } = [];

    public IReadOnlyDictionary<Guid, string> Names { get; private set; } = new Dictionary<Guid, string>();

    public bool MayDecide { get; private set; }

    public Guid? Me { get; private set; }

    public static IReadOnlyList<string> Filters { get; } = [.. ChangeRequestStatus.All, "all"];

    public async Task<IActionResult> OnGetAsync() => await ShowAsync();

    public async Task<IActionResult> OnPostApproveAsync()
        => await DecideAsync(await requests.ApproveAsync(RequestId, new ChangeRequestDecision(Comment), HttpContext.RequestAborted), checker: true);

    public async Task<IActionResult> OnPostRejectAsync()
        => await DecideAsync(await requests.RejectAsync(RequestId, new ChangeRequestDecision(Comment), HttpContext.RequestAborted), checker: true);

    public async Task<IActionResult> OnPostWithdrawAsync()
        => await DecideAsync(await requests.WithdrawAsync(RequestId, new ChangeRequestDecision(Comment), HttpContext.RequestAborted), checker: false);

    public IReadOnlyList<DiffBlock> Diff(ChangeRequestResponse request) => ChangeRequestDiff.Of(request, Names);

    private async Task<IActionResult> DecideAsync(Outcome<ChangeRequestResponse> outcome, bool checker)
    {
        if (checker && !await HttpContext.HoldsAsync(Privileges.ApproveChanges))
        {
            return RequiresPrivilegeAttribute.Forbidden();
        }

        if (outcome.Failure is { } failure)
        {
            failure.AddTo(ModelState);
            Response.StatusCode = failure.FormStatus();
            Highlight = RequestId;
            return await ShowAsync();
        }

        var request = outcome.Value!;
        TempData["Notice"] = request.Status switch
        {
            ChangeRequestStatus.Approved => Text["Approved: the change was applied."].Value,
            ChangeRequestStatus.Failed => Text["The change could not be applied any more ({0}): {1} The request ended as failed.", request.Failure?.Code ?? "", request.Failure?.Detail ?? ""].Value,
            ChangeRequestStatus.Rejected => Text["Rejected: nothing was changed."].Value,
            ChangeRequestStatus.Withdrawn => Text["Withdrawn: nothing was changed."].Value,
            _ => Text["The request is {0}.", request.Status].Value,
        };
        return Redirect($"/admin/approvals?status={request.Status}&id={request.Id}");
    }

    private async Task<IActionResult> ShowAsync()
    {
        var ct = HttpContext.RequestAborted;
        var caller = await HttpContext.CallerAsync();
        Me = caller?.Id;
        MayDecide = caller?.Privileges.Contains(Privileges.ApproveChanges) == true;
        var status = Status is null or "" ? ChangeRequestStatus.Pending : Status;
        var page = await requests.ListAsync(status == "all" ? null : status, ChangeRequestService.MaxLimit, null, ct);
        if (!page.Succeeded)
        {
            page.Failure!.AddTo(ModelState);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        Status = status;
        var list = page.Value!.Items.ToList();
        if (Highlight is { } id && list.FindIndex(r => r.Id == id) is var at and >= 0)
        {
            var first = list[at];
            list.RemoveAt(at);
            list.Insert(0, first);
        }
        else if (Highlight is { } other && (await requests.GetAsync(other, ct)).Value is { } extra)
        {
            list.Insert(0, extra);
        }

        Requests = list;
        var ids = list.SelectMany(ChangeRequestDiff.Ids).Distinct().ToList();
        var names = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).Select(u => new { u.Id, Name = u.Username }).ToListAsync(ct);
        names.AddRange(await db.Roles.AsNoTracking().Where(r => ids.Contains(r.Id)).Select(r => new { r.Id, r.Name }).ToListAsync(ct));
        names.AddRange(await db.Groups.AsNoTracking().Where(g => ids.Contains(g.Id)).Select(g => new { g.Id, g.Name }).ToListAsync(ct));
        Names = names.ToDictionary(n => n.Id, n => n.Name);
        return Page();
    }
}
