using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Net.Http.Headers;
using Tessera.Core.Access;
using Tessera.Server.Governance;

namespace Tessera.Server.BackOffice.Pages.Admin.Governance;

/// <summary>
/// The access report for auditors and reviewers (VIEW_AUDIT_LOG or REVIEW_ACCESS): the page offers the downloads, and
/// the Download handler streams the same report as GET /api/v1/access-report, for the cookie session.
/// </summary>
public sealed class AccessReportModel(AccessReport report) : PageModel
{
    public async Task<IActionResult> OnGetAsync()
        => await MayReadAsync() ? Page() : RequiresPrivilegeAttribute.Forbidden();

    public async Task<IActionResult> OnGetDownloadAsync(string? format, string? type, string? includeExpired)
    {
        if (!await MayReadAsync())
        {
            return RequiresPrivilegeAttribute.Forbidden();
        }

        var query = AccessReportQuery.Parse(format ?? AccessReportQuery.Csv, type, includeExpired);
        if (!query.Succeeded)
        {
            return BadRequest(query.Failure!.Detail);
        }

        var ct = HttpContext.RequestAborted;
        await report.AuditAsync(query.Value!, ct);
        Response.ContentType = query.Value!.ContentType;
        Response.Headers[HeaderNames.ContentDisposition] = new ContentDispositionHeaderValue("attachment")
        {
            FileName = query.Value.Format == AccessReportQuery.Csv ? "access-report.csv" : "access-report.json",
        }.ToString();
        await report.WriteAsync(query.Value, Response.Body, ct);
        return new EmptyResult();
    }

    private async Task<bool> MayReadAsync()
        => await HttpContext.HoldsAsync(Privileges.ViewAuditLog) || await HttpContext.HoldsAsync(Privileges.ReviewAccess);
}
