using Tessera.Server.Bootstrap;

namespace Tessera.Server.Storage;

/// <summary>
/// A background sender of a durable queue kept in the database (the mail outbox, the webhook deliveries), on every
/// instance: it starts once the bootstrap has made the database ready, then passes over the due messages again and
/// again, idling between passes as the queue says. A pass that fails is logged once until one succeeds again (a
/// database that does not answer is logged by <see cref="DatabaseOutage"/> instead), so an outage is not a warning
/// per poll. Each queue claims its messages with conditional updates, so instances stay off each other's.
/// </summary>
public abstract class QueueDispatcher(BootstrapGate bootstrap, ILogger logger) : BackgroundService
{
    /// <summary>What the log calls the queue ("The mail outbox").</summary>
    protected abstract string QueueName { get; }

    protected abstract int PollSeconds { get; }

    /// <summary>Once the database is ready, before the first pass: say how the queue is delivered, if worth saying.</summary>
    protected virtual void Starting()
    {
    }

    /// <summary>One pass over the due messages; returns how many were due.</summary>
    internal abstract Task<int> DispatchDueAsync(CancellationToken ct);

    /// <summary>Waits before the next pass, or returns at once when <paramref name="handled"/> says more is due.</summary>
    protected abstract Task IdleAsync(int handled, CancellationToken ct);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();

        // Nothing is sent from a database the bootstrap has not made ready; waiting also leaves the cores to the
        // start. A failed bootstrap stops the service itself.
        try
        {
            await bootstrap.Completion.WaitAsync(stoppingToken);
        }
        catch (Exception) when (!bootstrap.Completion.IsCompletedSuccessfully)
        {
            return;
        }

        Starting();
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await DispatchDueAsync(stoppingToken);
                failing = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                if (!failing && !DatabaseFaults.IsUnavailable(e))
                {
                    logger.LogWarning(e, "{Queue} could not be read; retrying every {PollSeconds} s.", QueueName, PollSeconds);
                }

                failing = true;
            }

            try
            {
                await IdleAsync(handled, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }
}
