using Tessera.Core.Access;
using Tessera.Server.Http;
using Tessera.Server.Observability;
using Tessera.Server.SignIn;

namespace Tessera.Server.Access;

/// <summary>POST /authorize/batch: up to <see cref="AccessDecisions.MaxBatch"/> checks, each as POST /authorize takes one.</summary>
public sealed record AuthorizeBatchRequest(IReadOnlyList<AuthorizeRequest?>? Checks);

/// <summary>One answer per check, in the order of the checks.</summary>
public sealed record AuthorizeBatchResponse(IReadOnlyList<AuthorizeResponse> Results);

/// <summary>
/// One decision, as both /authorize and /authorize/batch give it: whether the user may act at all, then the
/// privilege (granted by which role) or the resource and action (deny beats allow; which rule decided).
/// </summary>
public static class AccessDecisions
{
    public const int MaxBatch = 1000;

    public const string Shape = "Give userId and either privilege, or resource and action.";

    /// <summary>Whether a check names a user and exactly one of a privilege or a resource with an action.</summary>
    public static bool IsWellFormed(AuthorizeRequest? check)
        => check?.UserId is not null && (check.Privilege is null) != (check.Resource is null || check.Action is null);

    public static AuthorizeResponse Decide(CallerState? caller, AuthorizeRequest check, DateTime now)
    {
        if (caller is null)
        {
            return new AuthorizeResponse(false, "no such user");
        }

        if (!caller.MayAct(now))
        {
            return new AuthorizeResponse(false, "the user cannot act (disabled, locked, invited or reserved)");
        }

        if (check.Privilege is not null)
        {
            var sources = caller.Access.PrivilegeSources(check.Privilege.Trim().ToUpperInvariant());
            return sources.Count > 0
                ? new AuthorizeResponse(true, "granted by " + sources[0].Describe())
                : new AuthorizeResponse(false, "no role grants this privilege");
        }

        var decision = caller.Access.Decide(check.Resource!, check.Action!);
        return new AuthorizeResponse(decision.Allowed, decision.Reason);
    }

    public static IEndpointRouteBuilder MapAuthorizeBatch(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/authorize/batch", async (AuthorizeBatchRequest request, CallerDirectory callers, TesseraMetrics metrics, TimeProvider clock, CancellationToken ct) =>
        {
            var checks = request.Checks;
            if (checks is null || checks.Count is 0 or > MaxBatch)
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", $"Give between 1 and {MaxBatch} checks.",
                    new Dictionary<string, string[]> { ["checks"] = [$"Between 1 and {MaxBatch} checks."] }));
            }

            // Every check is looked at before any is answered: a malformed one refuses the whole batch.
            var errors = new Dictionary<string, string[]>();
            for (var i = 0; i < checks.Count; i++)
            {
                if (!IsWellFormed(checks[i]))
                {
                    errors[$"checks[{i}]"] = [Shape];
                }
            }

            if (errors.Count > 0)
            {
                return Problems.From(Core.Common.Failure.Invalid("validation_failed", $"{errors.Count} of the {checks.Count} checks are malformed. {Shape}", errors));
            }

            // Each user's standing once, however many checks name them (a menu asks dozens about one user).
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            var now = clock.GetUtcNow().UtcDateTime;
            var standings = new Dictionary<Guid, CallerState?>();
            var results = new AuthorizeResponse[checks.Count];
            for (var i = 0; i < checks.Count; i++)
            {
                var check = checks[i]!;
                var userId = check.UserId!.Value;
                if (!standings.TryGetValue(userId, out var caller))
                {
                    standings[userId] = caller = await callers.GetAsync(userId, ct);
                }

                results[i] = Decide(caller, check, now);
            }

            metrics.Decisions(results.Count(r => r.Allowed), results.Length, System.Diagnostics.Stopwatch.GetElapsedTime(start));
            return Results.Ok(new AuthorizeBatchResponse(results));
        }).RequirePrivilege(Privileges.Authorize).WithTags("Access")
          .WithSummary("Up to 1000 authorization checks at once, answered in order: each whether a user holds a privilege, or may do an action on a resource, and why.")
          .Produces<AuthorizeBatchResponse>();

        return app;
    }
}
