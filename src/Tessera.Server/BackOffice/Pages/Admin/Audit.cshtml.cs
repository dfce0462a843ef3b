using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Storage;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>The audit log, newest first, filtered by actor, action, target and a date range, paged by id.</summary>
[RequiresPrivilege(Privileges.ViewAuditLog)]
public sealed class AuditModel(TesseraDbContext db) : PageModel
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
        var events = db.AuditEvents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(Actor))
        {
            var actor = Actor.Trim();
            events = events.Where(e => e.ActorName.StartsWith(actor));
        }

        if (!string.IsNullOrWhiteSpace(Action))
        {
            var action = Action.Trim();
            events = events.Where(e => e.Action.StartsWith(action));
        }

        if (!string.IsNullOrWhiteSpace(Target))
        {
            var target = Target.Trim();
            events = events.Where(e => e.TargetId == target || (e.TargetName != null && e.TargetName.StartsWith(target)));
        }

        if (From is { } from)
        {
            var start = from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            events = events.Where(e => e.At >= start);
        }

        if (To is { } to)
        {
            var end = to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            events = events.Where(e => e.At < end);
        }

        if (Before is { } before)
        {
            events = events.Where(e => e.Id < before);
        }

        var page = await events.OrderByDescending(e => e.Id).Take(PageSize + 1).ToListAsync(HttpContext.RequestAborted);
        Events = page.Take(PageSize).ToList();
        NextBefore = page.Count > PageSize ? Events[^1].Id : null;
    }

    public string NextLink() => Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString("/admin/audit", new Dictionary<string, string?>
    {
        ["actor"] = Actor, ["action"] = Action, ["target"] = Target,
        ["from"] = From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["to"] = To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ["before"] = NextBefore?.ToString(CultureInfo.InvariantCulture),
    }.Where(p => !string.IsNullOrWhiteSpace(p.Value)));
}
