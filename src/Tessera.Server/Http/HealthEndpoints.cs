using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;

namespace Tessera.Server.Http;

public static class HealthEndpoints
{
    /// <summary>
    /// `GET /healthz`: 200 while the database answers, 503 when it does not; `GET /healthz/live`: 200 while the process serves.
    /// Until the bootstrap has committed, <see cref="Bootstrap.BootstrapGateMiddleware"/> holds /healthz (and answers 503 if it failed).
    /// </summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async (TesseraDbContext db, ILogger<TesseraDbContext> logger, CancellationToken ct) =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(3));
                await db.Database.ExecuteSqlRawAsync("SELECT 1", timeout.Token);
                return Results.Ok(new { status = "healthy" });
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogWarning("Health check: the database does not answer ({Error}).", e.GetType().Name);
                return Problems.Of(StatusCodes.Status503ServiceUnavailable, "database_unavailable", "The database does not answer.");
            }
        }).AllowAnonymous().ExcludeFromDescription();

        // Liveness without the database: the bare 200-OK that the load benchmarks measure against.
        app.MapGet("/healthz/live", () => Results.Ok(new { status = "live" })).AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
