using System.ComponentModel;
using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Audit;

public static class AuditEndpoints
{
    public static IServiceCollection AddTesseraAudit(this IServiceCollection services)
    {
        services.AddScoped<AuditLog>();
        services.AddScoped<AuditQuery>();
        services.AddScoped<AuditExport>();
        return services;
    }

    public static IEndpointRouteBuilder MapAudit(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/audit-events", async (
            [Description("Events of this actor (a username); a trailing * matches a prefix.")] string? actor,
            [Description("Events of this action, as user.created; a trailing * matches a prefix (user.*).")] string? action,
            [Description("Events on this target (its id or name); a trailing * matches a prefix.")] string? target,
            [Description("Events at or after this instant (ISO 8601), included.")] DateTime? from,
            [Description("Events before this instant (ISO 8601), not included.")] DateTime? to,
            [Description("Events per page, 1 to 200; 50 when left out.")] int? limit,
            [Description("The nextCursor of the previous page; left out for the first page.")] string? cursor,
            AuditQuery query, CancellationToken ct) =>
        {
            var parsed = AuditQuery.Parse(actor, action, target, from, to, limit, cursor);
            if (!parsed.Succeeded)
            {
                return Problems.From(parsed.Failure!);
            }

            var (filter, size, before) = parsed.Value;
            var page = await query.PageAsync(filter, size, before, ct);
            return Results.Ok(new
            {
                items = page.Events.Select(AuditQuery.ToResponse).ToList(),
                nextCursor = page.NextBefore?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
        }).RequirePrivilege(Privileges.ViewAuditLog).WithTags("Audit")
          .WithSummary("Audit events, newest first: filters actor, action, target (a trailing * matches a prefix), from (included), to (not included); keyset cursor.");

        app.MapGet("/api/v1/audit-events/export", async (
            [Description("Events of this actor (a username); a trailing * matches a prefix.")] string? actor,
            [Description("Events of this action, as user.created; a trailing * matches a prefix (user.*).")] string? action,
            [Description("Events on this target (its id or name); a trailing * matches a prefix.")] string? target,
            [Description("Events at or after this instant (ISO 8601), included.")] DateTime? from,
            [Description("Events before this instant (ISO 8601), not included.")] DateTime? to,
            AuditExport export, CancellationToken ct) =>
        {
            var parsed = AuditQuery.Parse(actor, action, target, from, to, null, null);
            if (!parsed.Succeeded)
            {
                return Problems.From(parsed.Failure!);
            }

            var filter = parsed.Value.Filter;
            await export.AuditAsync(filter, ct);
            return Results.Stream(body => export.WriteAsync(filter, body, ct), AuditExport.ContentType, AuditExport.FileName);
        }).RequirePrivilege(Privileges.ViewAuditLog).WithTags("Audit")
          .WithSummary("The audit events the same filters select, newest first, streamed as CSV (columns: id, at, actor, actorId, action, outcome, targetType, targetId, targetName, clientIp, details). Audited as audit.exported.");

        return app;
    }
}
