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
            if (request.UserId is null || (request.Privilege is null) == (request.Resource is null || request.Action is null))
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", "Give userId and either privilege, or resource and action."));
            }

            // Timed from the caller's standing to the answer: the decision itself, not the request's parsing or auth.
            var began = System.Diagnostics.Stopwatch.GetTimestamp();
            var answer = await DecideAsync(request, callers, clock, ct);
            metrics.Decision(answer.Allowed, System.Diagnostics.Stopwatch.GetElapsedTime(began));
            return Results.Ok(answer);
        }).RequirePrivilege(Privileges.Authorize).WithTags("Access")
          .WithSummary("Whether a user holds a privilege, or may do an action on a resource, and why.");

        return app;
    }

    private static async Task<AuthorizeResponse> DecideAsync(AuthorizeRequest request, CallerDirectory callers, TimeProvider clock, CancellationToken ct)
    {
        var caller = await callers.GetAsync(request.UserId!.Value, ct);
        if (caller is null)
        {
            return new AuthorizeResponse(false, "no such user");
        }

        if (!caller.MayAct(clock.GetUtcNow().UtcDateTime))
        {
            return new AuthorizeResponse(false, "the user cannot act (disabled, locked, invited or reserved)");
        }

        if (request.Privilege is not null)
        {
            var sources = caller.Access.PrivilegeSources(request.Privilege.Trim().ToUpperInvariant());
            return sources.Count > 0
                ? new AuthorizeResponse(true, "granted by " + sources[0].Describe())
                : new AuthorizeResponse(false, "no role grants this privilege");
        }

        var decision = caller.Access.Decide(request.Resource!, request.Action!);
        return new AuthorizeResponse(decision.Allowed, decision.Reason);
    }
}
