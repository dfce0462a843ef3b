using System.Threading.Channels;
using Tessera.Server.Storage;

namespace Tessera.Server.Audit;

/// <summary>
/// Writes the success events of token issuance in batches, one transaction per batch (group commit),
/// so that a repeat token request does not wait for a write transaction of its own. Every event is
/// written: the queue is bounded (<see cref="Capacity"/>) and, when it is full or the service is
/// stopping, the caller writes its event synchronously in its own unit of work (back-pressure, never
/// dropping); a graceful stop (<see cref="StopAsync"/>) writes what is queued; a failed write is
/// retried. The trade-off: a token is answered before its event is committed, so a crash or a kill
/// (not a graceful stop) may lose the events of about the last <see cref="Linger"/> plus one write.
/// Only successful token issues come here; failures, lockouts and every other event stay in the
/// transaction of their change.
/// </summary>
public sealed class AuditBatchWriter(IServiceScopeFactory scopes, ILogger<AuditBatchWriter> logger) : IHostedService
{
    public const int Capacity = 10_000;
    public const int MaxBatch = 500;

    /// <summary>How long the first queued event waits for others to join its batch.</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly Channel<AuditEvent> queue = Channel.CreateBounded<AuditEvent>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly TaskCompletionSource stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool accepting;
    private long queued;
    private long settled;
    private Task? writing;

    /// <summary>Queues the event, or when the queue cannot take it, adds it to <paramref name="db"/> and saves.</summary>
    public async Task RecordAsync(TesseraDbContext db, AuditEvent entry, CancellationToken ct)
    {
        if (TryQueue(entry))
        {
            return;
        }

        db.AuditEvents.Add(entry);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Queues the event for the next batch; false when the queue cannot take it (full, or the service stopping).</summary>
    public bool TryQueue(AuditEvent entry)
    {
        if (!accepting)
        {
            return false;
        }

        Interlocked.Increment(ref queued);
        if (queue.Writer.TryWrite(entry))
        {
            return true;
        }

        Interlocked.Decrement(ref queued);
        return false;
    }

    /// <summary>Waits until every event queued before the call is written (tests, and anyone who must read them back).</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        var target = Interlocked.Read(ref queued);
        while (Interlocked.Read(ref settled) < target)
        {
            await Task.Delay(5, ct);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        writing = Task.Run(WriteAllAsync, CancellationToken.None);
        accepting = true;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Requests still finishing from here on write their own events.
        accepting = false;
        stopping.TrySetResult();
        queue.Writer.TryComplete();
        if (writing is null)
        {
            return;
        }

        try
        {
            await writing.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            logger.LogError("The host stopped before {Count} queued audit events of token issuance were written.",
                Interlocked.Read(ref queued) - Interlocked.Read(ref settled));
        }
    }

    private async Task WriteAllAsync()
    {
        var reader = queue.Reader;
        var batch = new List<AuditEvent>(MaxBatch);
        while (await reader.WaitToReadAsync())
        {
            if (!stopping.Task.IsCompleted && reader.Count < MaxBatch)
            {
                await Task.WhenAny(Task.Delay(Linger), stopping.Task);
            }

            while (batch.Count < MaxBatch && reader.TryRead(out var entry))
            {
                batch.Add(entry);
            }

            await WriteAsync(batch);
            Interlocked.Add(ref settled, batch.Count);
            batch.Clear();
        }
    }

    private async Task WriteAsync(List<AuditEvent> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
                db.AuditEvents.AddRange(batch);
                await db.SaveChangesAsync();
                return;
            }
            catch (Exception exception) when (!stopping.Task.IsCompleted || attempt < 3)
            {
                // While running, retry for as long as it takes: the full queue makes requests write their own events meanwhile.
                // A database that does not answer is logged once per outage, by DatabaseOutage, not at every attempt.
                if (!DatabaseFaults.IsUnavailable(exception))
                {
                    logger.LogWarning(exception, "Writing {Count} audit events of token issuance failed (attempt {Attempt}); retrying.", batch.Count, attempt);
                }

                foreach (var entry in batch)
                {
                    entry.Id = 0;
                }

                await Task.Delay(RetryDelay);
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "{Count} audit events of token issuance could not be written before the host stopped.", batch.Count);
                return;
            }
        }
    }
}
