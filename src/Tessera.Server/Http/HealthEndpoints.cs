using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;

namespace Tessera.Server.Http;

public static class HealthEndpoints
{
    public const string LivePath = "/healthz/live";

    /// <summary>The answer of the liveness check.</summary>
    public static readonly IResult Live = Results.Ok(new { status = "live" });

    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// `GET /healthz`: 200 while the database answers, 503 `database_unavailable` with Retry-After when it does not;
    /// `GET /healthz/live`: 200 while the process serves. Until the database is ready (migrated and bootstrapped),
    /// <see cref="Bootstrap.BootstrapGateMiddleware"/> holds /healthz, answers it 503 while the start waits for the
    /// database, and 503 `not_ready` if the start failed.
    /// </summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async (TesseraDbContext db, DatabaseOutage outage, ILogger<TesseraDbContext> logger, CancellationToken ct) =>
        {
            var began = DateTimeOffset.UtcNow;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(CheckTimeout);
                await db.Database.ExecuteSqlRawAsync("SELECT 1", timeout.Token);
                return Results.Ok(new { status = "healthy" });
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                outage.Failed(new TimeoutException($"The database did not answer within {CheckTimeout.TotalSeconds:0} s."), began);
                return DatabaseUnavailable.Result;
            }
            catch (Exception e) when (DatabaseFaults.IsUnavailable(e))
            {
                // A load balancer asks every few seconds: the outage is logged when it begins and ends, not per check.
                outage.Failed(e, began);
                return DatabaseUnavailable.Result;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Health check: the database answered SELECT 1 with an error.");
                return DatabaseUnavailable.Result;
            }
        }).AllowAnonymous().ExcludeFromDescription();

        // Liveness without the database: the bare 200-OK that the load benchmarks measure against.
        app.MapGet(LivePath, () => Live).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
