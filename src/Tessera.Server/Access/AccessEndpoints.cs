using System.ComponentModel;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Access;

/// <summary>POST /authorize: `{userId, privilege}` or `{userId, resource, action}`.</summary>
public sealed record AuthorizeRequest(Guid? UserId, string? Privilege, string? Resource, string? Action);

public sealed record AuthorizeResponse(bool Allowed, string Reason);

public sealed record AuditEventResponse(long Id, DateTime At, Guid? ActorId, string Actor, string Action, string Outcome, string? TargetType, string? TargetId, string? TargetName, System.Text.Json.JsonElement? Details, string? ClientIp);

public static class AccessEndpoints
{
    public static IEndpointRouteBuilder MapAccess(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/authorize", async (AuthorizeRequest request, CallerDirectory callers, TimeProvider clock, CancellationToken ct) =>
        {
            if (request.UserId is null || (request.Privilege is null) == (request.Resource is null || request.Action is null))
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", "Give userId and either privilege, or resource and action."));
            }

            var caller = await callers.GetAsync(request.UserId.Value, ct);
            if (caller is null)
            {
                return Results.Ok(new AuthorizeResponse(false, "no such user"));
            }

            if (!caller.MayAct(clock.GetUtcNow().UtcDateTime))
            {
                return Results.Ok(new AuthorizeResponse(false, "the user cannot act (disabled, locked, invited or reserved)"));
            }

            if (request.Privilege is not null)
            {
                var sources = caller.Access.PrivilegeSources(request.Privilege.Trim().ToUpperInvariant());
                return Results.Ok(sources.Count > 0
                    ? new AuthorizeResponse(true, "granted by " + sources[0].Describe())
                    : new AuthorizeResponse(false, "no role grants this privilege"));
            }

            var decision = caller.Access.Decide(request.Resource!, request.Action!);
            return Results.Ok(new AuthorizeResponse(decision.Allowed, decision.Reason));
        }).RequirePrivilege(Privileges.Authorize).WithTags("Access")
          .WithSummary("Whether a user holds a privilege, or may do an action on a resource, and why.");

        app.MapGet("/api/v1/audit-events", async (
            [Description("Events of this actor (a username).")] string? actor,
            [Description("Events of this action, as user.created.")] string? action,
            [Description("Events on this target (its id).")] string? target,
            [Description("Events at or after this instant (ISO 8601).")] DateTime? from,
            [Description("Events before this instant (ISO 8601).")] DateTime? to,
            [Description("Events per page, 1 to 200; 50 when left out.")] int? limit,
            [Description("The nextCursor of the previous page; left out for the first page.")] string? cursor,
            TesseraDbContext db, CancellationToken ct) =>
        {
            var size = limit ?? 50;
            if (size is < 1 or > 200)
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", "limit must be between 1 and 200.", new Dictionary<string, string[]> { ["limit"] = ["1 to 200"] }));
            }

            long? before = null;
            if (cursor is not null)
            {
                if (!long.TryParse(cursor, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
                {
                    return Problems.From(Paging.Refuse(new Dictionary<string, string[]> { ["cursor"] = [Paging.CursorMessage] }));
                }

                before = parsed;
            }

            var events = db.AuditEvents.AsNoTracking();
            if (!string.IsNullOrWhiteSpace(actor))
            {
                events = events.Where(e => e.ActorName == actor.Trim());
            }

            if (!string.IsNullOrWhiteSpace(action))
            {
                var a = action.Trim();
                events = a.EndsWith('*') ? events.Where(e => e.Action.StartsWith(a.TrimEnd('*'))) : events.Where(e => e.Action == a);
            }

            if (!string.IsNullOrWhiteSpace(target))
            {
                var t = target.Trim();
                events = events.Where(e => e.TargetId == t || e.TargetName == t);
            }

            if (from is not null)
            {
                var f = from.Value.ToUniversalTime();
                events = events.Where(e => e.At >= f);
            }

            if (to is not null)
            {
                var t = to.Value.ToUniversalTime();
                events = events.Where(e => e.At < t);
            }

            if (before is not null)
            {
                events = events.Where(e => e.Id < before);
            }

            var page = await events.OrderByDescending(e => e.Id).Take(size + 1).ToListAsync(ct);
            var next = page.Count > size ? page[size - 1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            var items = page.Take(size).Select(e => new AuditEventResponse(e.Id, e.At, e.ActorId, e.ActorName, e.Action, e.Outcome, e.TargetType, e.TargetId, e.TargetName,
                e.Details is null ? null : System.Text.Json.JsonDocument.Parse(e.Details).RootElement.Clone(), e.ClientIp)).ToList();
            return Results.Ok(new { items, nextCursor = next });
        }).RequirePrivilege(Privileges.ViewAuditLog).WithTags("Audit")
          .WithSummary("Audit events, newest first: filters actor, action (a trailing * matches a prefix), target, from, to; keyset cursor.");

        return app;
    }
}
