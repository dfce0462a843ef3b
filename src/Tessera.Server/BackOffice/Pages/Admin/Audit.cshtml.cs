using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Tessera.Core.Access;
using Tessera.Server.Audit;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>
/// The audit log, newest first, filtered by actor, action, target and a range of days in the user's time zone (the
/// first day included, the last not), paged by id; the Export handler streams the same events as CSV for the cookie
/// session, as GET /api/v1/audit-events/export does for a token. Both read <see cref="AuditQuery"/>.
/// </summary>
[RequiresPrivilege(Privileges.ViewAuditLog)]
public sealed class AuditModel(AuditQuery query, AuditExport export, UserTime time) : PageModel
{
    public const int PageSize = 50;

    [BindProperty(SupportsGet = true)] public string? Actor { get; set; }
    [BindProperty(SupportsGet = true)] public string? Action { get; set; }
    [BindProperty(SupportsGet = true)] public string? Target { get; set; }
    [BindProperty(SupportsGet = true)] public DateOnly? From { get; set; }
    [BindProperty(SupportsGet = true)] public DateOnly? To { get; set; }
    [BindProperty(SupportsGet = true)] public long? Before { get; set; }

    public IReadOnlyList<AuditEvent> Events { get; private set; } = [];

    public long? NextBefore { get; private set; }

    public async Task OnGetAsync()
    {
        var page = await query.PageAsync(Filter(), PageSize, Before, HttpContext.RequestAborted);
        Events = page.Events;
        NextBefore = page.NextBefore;
    }

    public async Task<IActionResult> OnGetExportAsync()
    {
        var ct = HttpContext.RequestAborted;
        var filter = Filter();
        await export.AuditAsync(filter, ct);
        Response.ContentType = AuditExport.ContentType;
        Response.Headers[HeaderNames.ContentDisposition] = new ContentDispositionHeaderValue("attachment") { FileName = AuditExport.FileName }.ToString();
        await export.WriteAsync(filter, Response.Body, ct);
        return new EmptyResult();
    }

    /// <summary>The days are the user's: from the start of <see cref="From"/> up to (not including) the start of <see cref="To"/>, in their time zone.</summary>
    private AuditFilter Filter() => new(Actor, Action, Target, Start(From), Start(To));

    private DateTime? Start(DateOnly? day)
    {
        if (day is not { } d)
        {
            return null;
        }

        // Where a clock change skips midnight (America/Santiago), the day starts at the first hour that exists.
        var midnight = d.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (time.Zone.IsInvalidTime(midnight))
        {
            midnight = midnight.AddMinutes(30);
        }

        return TimeZoneInfo.ConvertTimeToUtc(midnight, time.Zone);
    }

    private Dictionary<string, string?> Query() => new()
    {
        ["actor"] = Actor, ["action"] = Action, ["target"] = Target,
        ["from"] = From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["to"] = To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    public string NextLink()
    {
        var values = Query();
        values["before"] = NextBefore?.ToString(CultureInfo.InvariantCulture);
        return QueryHelpers.AddQueryString("/admin/audit", values.Where(p => !string.IsNullOrWhiteSpace(p.Value)));
    }

    public string ExportLink()
    {
        var values = Query();
        values["handler"] = "Export";
        return QueryHelpers.AddQueryString("/admin/audit", values.Where(p => !string.IsNullOrWhiteSpace(p.Value)));
    }
}
