using System.Security.Claims;
using System.Text.Json;
using Tessera.Server.Storage;

namespace Tessera.Server.Audit;

/// <summary>Who is acting, as the audit log names them.</summary>
public sealed record Actor(Guid? Id, string Name, string? ClientIp, string? UserAgent)
{
    public static readonly Actor System = new(null, "system", null, null);
}

/// <summary>
/// Adds audit events to the caller's unit of work, so they commit or roll back with the change.
/// The one exception: the success event of a token that changes nothing else, which
/// <see cref="AuditBatchWriter"/> writes in a batch.
/// </summary>
public sealed class AuditLog(TimeProvider clock, IHttpContextAccessor http)
{
    /// <summary>The current caller: the signed-in user, or "anonymous", with their address.</summary>
    public Actor CurrentActor()
    {
        var context = http.HttpContext;
        if (context is null)
        {
            return Actor.System;
        }

        var principal = context.User;
        Guid? id = Guid.TryParse(principal.FindFirstValue("sub") ?? principal.FindFirstValue(ClaimTypes.NameIdentifier), out var parsed) ? parsed : null;
        var name = principal.FindFirstValue("preferred_username") ?? principal.Identity?.Name ?? "anonymous";
        return ActorOf(context, id, name);
    }

    /// <summary>The request's address and user agent, in the name of <paramref name="id"/> and <paramref name="name"/>.</summary>
    public static Actor ActorOf(HttpContext context, Guid? id, string name)
    {
        var agent = context.Request.Headers.UserAgent.ToString();
        return new Actor(id, name, context.Connection.RemoteIpAddress?.ToString(), agent.Length > 512 ? agent[..512] : agent);
    }

    public AuditEvent Record(TesseraDbContext db, string action, string? targetType = null, string? targetId = null,
        string? targetName = null, object? details = null, string outcome = "success", Actor? actor = null)
    {
        var entry = Describe(action, targetType, targetId, targetName, details, outcome, actor);
        db.AuditEvents.Add(entry);
        return entry;
    }

    /// <summary>The event, stamped now, without adding it to a unit of work (see <see cref="AuditBatchWriter"/>).</summary>
    public AuditEvent Describe(string action, string? targetType = null, string? targetId = null,
        string? targetName = null, object? details = null, string outcome = "success", Actor? actor = null)
    {
        return Event(clock.GetUtcNow().UtcDateTime, action, targetType, targetId, targetName,
            details is null ? null : JsonSerializer.Serialize(details, JsonSerializerOptions.Web), outcome, actor ?? CurrentActor());
    }

    /// <summary>The event as stored, its details already serialized (<see cref="JsonSerializerOptions.Web"/>).</summary>
    public static AuditEvent Event(DateTime at, string action, string? targetType, string? targetId, string? targetName, string? details,
        string outcome, Actor actor) => new()
        {
            At = at,
            ActorId = actor.Id,
            ActorName = actor.Name,
            Action = action,
            Outcome = outcome,
            TargetType = targetType,
            TargetId = targetId,
            TargetName = targetName,
            Details = details,
            ClientIp = actor.ClientIp,
            UserAgent = actor.UserAgent,
        };
}
