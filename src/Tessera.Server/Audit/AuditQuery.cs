using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.Audit;

/// <summary>
/// Which audit events to read. Each text filter matches exactly, or, ending in <c>*</c>, as a prefix (`user.*`);
/// <see cref="From"/> is included and <see cref="To"/> is not, so that consecutive ranges neither overlap nor leave a gap.
/// </summary>
public sealed record AuditFilter(string? Actor = null, string? Action = null, string? Target = null, DateTime? From = null, DateTime? To = null)
{
    /// <summary>The filters as query-string values (for the export link and the audit event of an export).</summary>
    public Dictionary<string, string?> ToQuery() => new()
    {
        ["actor"] = Blank(Actor),
        ["action"] = Blank(Action),
        ["target"] = Blank(Target),
        ["from"] = From is { } f ? Instant(f) : null,
        ["to"] = To is { } t ? Instant(t) : null,
    };

    public static string Instant(DateTime at) => DateTime.SpecifyKind(at, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>One audit event as the API answers it (GET /api/v1/audit-events).</summary>
public sealed record AuditEventResponse(long Id, DateTime At, Guid? ActorId, string Actor, string Action, string Outcome, string? TargetType,
    string? TargetId, string? TargetName, JsonElement? Details, string? ClientIp);

/// <summary>A page of events, newest first, and the id to continue below (null on the last page).</summary>
public sealed record AuditPage(IReadOnlyList<AuditEvent> Events, long? NextBefore);

/// <summary>
/// The one search of the audit log, for GET /api/v1/audit-events, its CSV export and the Back Office's audit page:
/// newest first, in keyset pages by id (each filter is served by an index of (column, id), the range by the index of At).
/// </summary>
public sealed class AuditQuery(TesseraDbContext db)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Reads the API's query string; 400 naming each bad parameter (<c>invalid_cursor</c> for the cursor).</summary>
    public static Outcome<(AuditFilter Filter, int Limit, long? Before)> Parse(string? actor, string? action, string? target, DateTime? from, DateTime? to, int? limit, string? cursor)
    {
        var errors = new Dictionary<string, string[]>();
        var size = limit ?? DefaultLimit;
        if (size is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        long? before = null;
        if (cursor is not null)
        {
            if (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                before = parsed;
            }
            else
            {
                errors["cursor"] = [Paging.CursorMessage];
            }
        }

        if (from is { } f && to is { } t && t.ToUniversalTime() < f.ToUniversalTime())
        {
            errors["to"] = ["to must not be before from."];
        }

        return errors.Count > 0
            ? Paging.Refuse(errors)
            : Outcome<(AuditFilter, int, long?)>.Ok((new AuditFilter(actor, action, target, from?.ToUniversalTime(), to?.ToUniversalTime()), size, before));
    }

    /// <summary>The events the filter selects, in no particular order.</summary>
    public IQueryable<AuditEvent> Matching(AuditFilter filter)
    {
        var events = db.AuditEvents.AsNoTracking();
        if (Text(filter.Actor) is var (actor, actorPrefix))
        {
            events = actorPrefix ? events.Where(e => e.ActorName.StartsWith(actor)) : events.Where(e => e.ActorName == actor);
        }

        if (Text(filter.Action) is var (action, actionPrefix))
        {
            events = actionPrefix ? events.Where(e => e.Action.StartsWith(action)) : events.Where(e => e.Action == action);
        }

        if (Text(filter.Target) is var (target, targetPrefix))
        {
            events = targetPrefix
                ? events.Where(e => e.TargetId!.StartsWith(target) || e.TargetName!.StartsWith(target))
                : events.Where(e => e.TargetId == target || e.TargetName == target);
        }

        if (filter.From is { } from)
        {
            var start = DateTime.SpecifyKind(from, DateTimeKind.Utc);
            events = events.Where(e => e.At >= start);
        }

        if (filter.To is { } to)
        {
            var end = DateTime.SpecifyKind(to, DateTimeKind.Utc);
            events = events.Where(e => e.At < end);
        }

        return events;
    }

    /// <summary>Up to <paramref name="limit"/> events below the id <paramref name="before"/>, newest first.</summary>
    public async Task<AuditPage> PageAsync(AuditFilter filter, int limit, long? before, CancellationToken ct)
    {
        var events = Matching(filter);
        if (before is { } below)
        {
            events = events.Where(e => e.Id < below);
        }

        var page = await events.OrderByDescending(e => e.Id).Take(limit + 1).ToListAsync(ct);
        return page.Count > limit ? new AuditPage(page.Take(limit).ToList(), page[limit - 1].Id) : new AuditPage(page, null);
    }

    public static AuditEventResponse ToResponse(AuditEvent e) => new(e.Id, DateTime.SpecifyKind(e.At, DateTimeKind.Utc), e.ActorId, e.ActorName, e.Action, e.Outcome,
        e.TargetType, e.TargetId, e.TargetName, e.Details is null ? null : JsonDocument.Parse(e.Details).RootElement.Clone(), e.ClientIp);

    /// <summary>The trimmed text and whether it asks for a prefix (a trailing <c>*</c>); null for no filter (blank, or <c>*</c> alone).</summary>
    private static (string Value, bool Prefix)? Text(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var trimmed = value.Trim();
        if (!trimmed.EndsWith('*'))
        {
            return (trimmed, false);
        }

        var prefix = trimmed.TrimEnd('*').TrimEnd();
        return prefix.Length == 0 ? null : (prefix, true);
    }
}
