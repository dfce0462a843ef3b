using Tessera.Server.Bootstrap;

namespace Tessera.Server.Storage;

/// <summary>
/// Housekeeping that runs on every instance once the bootstrap has finished: a first run after
/// <see cref="FirstDelay"/>, then one every <see cref="Period"/>. A run that fails is logged (a database that does
/// not answer is logged by <see cref="DatabaseOutage"/> instead) and the next run finds what it missed. The jobs
/// claim their work with conditional updates, so that of several instances exactly one does each piece.
/// </summary>
public abstract class PeriodicJob(BootstrapGate bootstrap, TimeProvider clock, ILogger logger) : BackgroundService
{
    protected TimeProvider Clock { get; } = clock;

    protected abstract TimeSpan Period { get; }

    protected virtual TimeSpan FirstDelay => Period;

    /// <summary>What the job does, as the log names it ("Looking for ended role grants").</summary>
    protected abstract string Name { get; }

    protected abstract Task RunOnceAsync(CancellationToken ct);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await bootstrap.Completion.WaitAsync(stoppingToken);
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested || !bootstrap.Completion.IsCompletedSuccessfully)
        {
            // Stopping, or a failed bootstrap, which stops the service itself.
            return;
        }

        var delay = FirstDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, Clock, stoppingToken);
                await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (!DatabaseFaults.IsUnavailable(e))
            {
                logger.LogWarning(e, "{Job} failed; the next run is in {Period}.", Name, Period);
            }
            catch (Exception)
            {
                // The outage is logged by DatabaseOutage.
            }

            delay = Period;
        }
    }
}
