using Tessera.Core.Access;
using Tessera.Server.Http;
using Tessera.Server.SignIn;

namespace Tessera.Server.Access;

/// <summary>POST /authorize: `{userId, privilege}` or `{userId, resource, action}`.</summary>
public sealed record AuthorizeRequest(Guid? UserId, string? Privilege, string? Resource, string? Action);

public sealed record AuthorizeResponse(bool Allowed, string Reason);

public static class AccessEndpoints
{
    public static IEndpointRouteBuilder MapAccess(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/authorize", async (AuthorizeRequest request, CallerDirectory callers, TimeProvider clock, Observability.TesseraMetrics metrics, CancellationToken ct) =>
        {
            if (!AccessDecisions.IsWellFormed(request))
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", AccessDecisions.Shape));
            }

            // Timed from the caller's standing to the answer: the decision itself, not the request's parsing or auth.
            var began = System.Diagnostics.Stopwatch.GetTimestamp();
            var answer = AccessDecisions.Decide(await callers.GetAsync(request.UserId!.Value, ct), request, clock.GetUtcNow().UtcDateTime);
            metrics.Decision(answer.Allowed, System.Diagnostics.Stopwatch.GetElapsedTime(began));
            return Results.Ok(answer);
        }).RequirePrivilege(Privileges.Authorize).WithTags("Access")
          .WithSummary("Whether a user holds a privilege, or may do an action on a resource, and why.");

        return app;
    }
}
