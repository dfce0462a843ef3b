using Microsoft.Extensions.Options;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Bootstrap;

/// <summary>
/// Makes the database ready beside the rest of the start (migrations, then the <see cref="Bootstrapper"/>, then
/// the token signing keys), and holds every request but the liveness check until it has finished: no request
/// is answered from a database the bootstrap has not made ready, so a configured secret an operator changed
/// takes effect before any sign-in is checked, and the readiness check (/healthz) turns healthy only once the
/// service can serve.
/// </summary>
/// <remarks>
/// The host listens meanwhile, so /healthz/live answers from the first moment. A database that does not answer
/// is retried with a growing pause (<see cref="FirstRetryDelay"/> doubling to <see cref="MaxRetryDelay"/>) for
/// `Tessera:Database:StartRetrySeconds`; while it is retried, held and new requests are answered 503 with
/// Retry-After (<see cref="DatabaseUnavailable"/>) rather than kept waiting. When the limit passes, or anything
/// else fails (a migration, the bootstrap), the service stops with exit code 1.
/// The bootstrap verifies each configured secret against its PBKDF2 hash (a fraction of a second each, by
/// design); it overlaps the host's start instead of preceding it.
/// </remarks>
public sealed class BootstrapGate(
    IServiceScopeFactory scopes,
    IHostApplicationLifetime lifetime,
    IOptions<DatabaseOptions> database,
    DatabaseOutage outage,
    SigningKeys signingKeys,
    IOptions<BootstrapOptions> bootstrapOptions,
    Microsoft.AspNetCore.Identity.IPasswordHasher<Tessera.Server.Storage.User> hasher,
    TimeProvider clock,
    ILogger<BootstrapGate> logger)
{
    internal static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest pause between attempts: it bounds how long a start lags behind a database that has come back.</summary>
    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;

    /// <summary>Completes when the bootstrap has committed and the host has started (then the start's heap is compacted); faults when the bootstrap failed.</summary>
    public Task Completion => _done.Task;

    /// <summary>Completes once a held request can be answered: the gate has opened or failed, or the start is waiting for the database.</summary>
    public Task Settled => _settled.Task;

    /// <summary>Starts making the database ready on the thread pool; a second call does nothing.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _ = Task.Run(RunAsync);
        }
    }

    /// <summary>`migrate`: applies pending migrations, waiting for the database as a start does; throws when it gives up.</summary>
    public Task MigrateAsync(CancellationToken ct) => WhileTheDatabaseIsDownAsync(MigrateOnceAsync, ct);

    private async Task RunAsync()
    {
        var stopping = lifetime.ApplicationStopping;
        try
        {
            await WhileTheDatabaseIsDownAsync(PrepareOnceAsync, stopping);
            await CompactOnceStartedAsync(stopping);
            _done.TrySetResult();
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            _done.TrySetCanceled(stopping);
        }
#pragma warning disable CA1031 // Any failure must stop the service rather than leave it answering without a bootstrap.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (DatabaseFaults.IsUnavailable(e))
            {
                logger.LogCritical("The database did not answer within {Seconds} s of the start (Tessera:Database:StartRetrySeconds): {Error}. Tessera stops.",
                    database.Value.StartRetrySeconds, DatabaseFaults.Describe(e));
            }
            else
            {
                logger.LogCritical(e, "The bootstrap failed; Tessera stops.");
            }

            Environment.ExitCode = 1;
            _done.TrySetException(e);

            // Once the host has started (at once if it has): a stop requested while the host is still starting
            // cancels its start, which ends the process with an unhandled exception instead of exit code 1.
            lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
        finally
        {
            _settled.TrySetResult();
        }
    }

    private async Task PrepareOnceAsync(CancellationToken ct)
    {
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
            await db.MigrateAsync(ct);
            // A start with nothing changed since the last bootstrap skips it (and the skeleton backfill): one plain
            // query and the configured secrets' checks instead of the bootstrap's EF Core queries (BootstrapRecord).
            if (await BootstrapRecord.IsCurrentAsync(db, bootstrapOptions.Value, hasher, ct))
            {
                logger.LogInformation("The database is as the last bootstrap left it and the configuration is unchanged: the bootstrap is skipped.");
            }
            else
            {
                await SkeletonBackfill.RunAsync(db, ct);
                await scope.ServiceProvider.GetRequiredService<Bootstrapper>().RunAsync(ct);
            }
        }

        signingKeys.Get();
    }

    private async Task MigrateOnceAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        await db.MigrateAsync(ct);
        // Fills what the migrations could not compute in SQL (the look-alike skeletons of older rows).
        await SkeletonBackfill.RunAsync(db, ct);
    }

    /// <summary>Runs <paramref name="attempt"/> until it succeeds, again after each failure that means the database does not answer, for as long as the setting allows.</summary>
    private async Task WhileTheDatabaseIsDownAsync(Func<CancellationToken, Task> attempt, CancellationToken ct)
    {
        var deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(database.Value.StartRetrySeconds);
        var delay = FirstRetryDelay;
        while (true)
        {
            var began = DateTimeOffset.UtcNow;
            try
            {
                await attempt(ct);
                return;
            }
            catch (Exception e) when (DatabaseFaults.IsUnavailable(e) && !ct.IsCancellationRequested && clock.GetUtcNow() + delay < deadline)
            {
                // Logged once by the outage (not per attempt); requests are answered 503 from now on rather than held.
                outage.Failed(e, began);
                _settled.TrySetResult();
                await Task.Delay(delay, clock, ct);
                delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            }
        }
    }

    /// <summary>
    /// Once the host has started (and the bootstrap has committed), one full, compacting collection
    /// returns the start's garbage to the operating system: JIT, EF Core's and OpenIddict's set-up,
    /// configuration binding. Without it an idle service kept that memory until enough new
    /// allocations triggered a collection (measured: 6 MB of idle RSS). It runs before the gate
    /// opens, so its pause (30 to 45 ms here) is part of the start rather than of a request.
    /// </summary>
    private async Task CompactOnceStartedAsync(CancellationToken stopping)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stopping);
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}

public static class BootstrapGateMiddleware
{
    /// <summary>
    /// Holds each request until the database is ready; 503 `database_unavailable` with Retry-After while the start
    /// waits for the database, 503 `not_ready` when the start failed or the service stops. Meanwhile the gate answers
    /// the liveness check itself: the rest of the pipeline needs the database (OpenIddict's request handler, which
    /// sees every request, builds its options from the signing keys in the database, once).
    /// </summary>
    public static IApplicationBuilder UseBootstrapGate(this IApplicationBuilder app)
    {
        var gate = app.ApplicationServices.GetRequiredService<BootstrapGate>();
        return app.Use(async (context, next) =>
        {
            if (!gate.Completion.IsCompletedSuccessfully)
            {
                if (context.Request.Path.Equals(HealthEndpoints.LivePath, StringComparison.OrdinalIgnoreCase))
                {
                    await HealthEndpoints.Live.ExecuteAsync(context);
                    return;
                }

                await gate.Settled.WaitAsync(context.RequestAborted);
                if (!gate.Completion.IsCompleted)
                {
                    await DatabaseUnavailable.WriteAsync(context);
                    return;
                }

                if (!gate.Completion.IsCompletedSuccessfully)
                {
                    await Problems.Of(StatusCodes.Status503ServiceUnavailable, "not_ready", "Tessera could not make its database ready; see its log.").ExecuteAsync(context);
                    return;
                }
            }

            await next(context);
        });
    }
}
