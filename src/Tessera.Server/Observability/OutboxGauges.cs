using Microsoft.EntityFrameworkCore;
using Tessera.Server.Mail;
using Tessera.Server.Storage;

namespace Tessera.Server.Observability;

/// <summary>
/// How far behind the two durable outboxes are: the mail outbox and the webhook deliveries. Each has a depth (messages
/// pending) and the age of its oldest pending message, as gauges labelled `queue` (mail, webhooks).
/// The figures come from the database, which every scrape of every scraper would otherwise query (and a gauge's
/// callback runs once per instrument): they are read at most once per <see cref="MaxAge"/> per instance, by the first
/// scrape that finds them older, and every other observation in between answers from memory. Registered only while
/// metrics are collected, so an instance without metrics never runs these queries.
/// </summary>
public sealed class OutboxGauges
{
    /// <summary>How old the figures may be before a scrape reads them again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    /// <summary>A scrape waits at most this long for fresh figures, then answers with the last ones.</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _clock;
    private readonly ILogger<OutboxGauges> _logger;
    private readonly Lock _gate = new();
    private Figures? _figures;
    private Task? _reading;
    private DateTimeOffset _attemptedAt = DateTimeOffset.MinValue;

    public OutboxGauges(TesseraMetrics metrics, IServiceScopeFactory scopes, TimeProvider clock, ILogger<OutboxGauges> logger)
    {
        _scopes = scopes;
        _clock = clock;
        _logger = logger;
        metrics.Meter.CreateObservableGauge("tessera.outbox.depth", () => Observe(f => f.Depth), "{message}",
            "Messages waiting in a durable outbox, by queue (mail, webhooks).");
        metrics.Meter.CreateObservableGauge("tessera.outbox.oldest_age", () => Observe(f => f.OldestAge), "s",
            "Age of the oldest message waiting in a durable outbox, by queue (mail, webhooks); 0 when none waits.");
    }

    /// <summary>The figures of one read: per queue, the pending count and the oldest pending message's age in seconds.</summary>
    private sealed record Figures(DateTimeOffset ReadAt, long MailDepth, double MailOldestAge, long WebhookDepth, double WebhookOldestAge)
    {
        public (long Mail, long Webhooks) Depth => (MailDepth, WebhookDepth);

        public (double Mail, double Webhooks) OldestAge => (MailOldestAge, WebhookOldestAge);
    }

    private IEnumerable<System.Diagnostics.Metrics.Measurement<T>> Observe<T>(Func<Figures, (T Mail, T Webhooks)> pick)
        where T : struct
    {
        if (Current() is not { } figures)
        {
            return [];
        }

        var (mail, webhooks) = pick(figures);
        return
        [
            new(mail, new KeyValuePair<string, object?>("queue", "mail")),
            new(webhooks, new KeyValuePair<string, object?>("queue", "webhooks")),
        ];
    }

    /// <summary>The figures, read again first when they are older than <see cref="MaxAge"/>; null until one read has succeeded.</summary>
    private Figures? Current()
    {
        Task reading;
        lock (_gate)
        {
            var now = _clock.GetUtcNow();
            if (_figures is { } fresh && now - fresh.ReadAt < MaxAge)
            {
                return fresh;
            }

            // A read that failed is not tried again within MaxAge either: an outage costs one query per interval.
            if (_reading is null && now - _attemptedAt < MaxAge)
            {
                return _figures;
            }

            // One read at a time, however many scrapes and instruments ask meanwhile.
            if (_reading is null)
            {
                _attemptedAt = now;
                _reading = Task.Run(ReadAsync);
            }

            reading = _reading;
        }

        // Gauge callbacks are synchronous; the wait is bounded, and a slow database leaves the last figures in place.
        reading.Wait(ReadTimeout);
        lock (_gate)
        {
            return _figures;
        }
    }

    private async Task ReadAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var ct = timeout.Token;
            await using var scope = _scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
            var now = _clock.GetUtcNow();
            var mail = db.OutboxMessages.AsNoTracking().Where(m => m.Status == OutboxStatus.Pending);
            var mailDepth = await mail.LongCountAsync(ct);
            var mailOldest = mailDepth == 0 ? (DateTime?)null : await mail.OrderBy(m => m.CreatedAt).Select(m => (DateTime?)m.CreatedAt).FirstOrDefaultAsync(ct);
            var hooks = db.WebhookDeliveries.AsNoTracking().Where(d => d.Status == WebhookDeliveryStatus.Pending);
            var hookDepth = await hooks.LongCountAsync(ct);
            var hookOldest = hookDepth == 0 ? (DateTime?)null : await hooks.OrderBy(d => d.CreatedAt).Select(d => (DateTime?)d.CreatedAt).FirstOrDefaultAsync(ct);
            var figures = new Figures(now, mailDepth, Age(now, mailOldest), hookDepth, Age(now, hookOldest));
            lock (_gate)
            {
                _figures = figures;
            }
        }
        catch (Exception e)
        {
            // The database is down or not migrated yet: the gauges keep their last figures (or none), and the outage
            // itself is logged where it is met. Said at Debug so that every scrape of an outage adds no warning.
            _logger.LogDebug(e, "The outbox figures could not be read.");
        }
        finally
        {
            lock (_gate)
            {
                _reading = null;
            }
        }
    }

    private static double Age(DateTimeOffset now, DateTime? oldest)
        => oldest is { } at ? Math.Max(0, (now.UtcDateTime - DateTime.SpecifyKind(at, DateTimeKind.Utc)).TotalSeconds) : 0;
}
