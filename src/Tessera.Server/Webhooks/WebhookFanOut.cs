using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Tessera.Server.Storage;

namespace Tessera.Server.Webhooks;

/// <summary>
/// Queues the webhook deliveries of every audit event in the unit of work that writes the event: one
/// <see cref="WebhookDelivery"/> per enabled subscription whose filter matches the action, saved in the same
/// transaction. A committed event therefore always has its deliveries, and a rolled-back one has none (the first half
/// of at-least-once; <see cref="WebhookDispatcher"/> is the second).
/// </summary>
/// <remarks>
/// Every SaveChanges passes through here, the token endpoint's batched audit writes included, so the common case
/// (no subscription) must cost nothing measurable: the subscriptions come from <see cref="WebhookSubscriptionCache"/>
/// (no query while it is fresh), and the change tracker is not scanned at all when the list is empty. The cache is
/// loaded, when it must be, through a context of its own: the saving context is mid-SaveChanges, possibly inside
/// the caller's transaction.
/// </remarks>
public sealed class WebhookFanOut(IServiceScopeFactory scopes, WebhookSubscriptionCache subscriptions, WebhookDeliverySignal signal, TimeProvider clock)
    : SaveChangesInterceptor
{
    /// <summary>Contexts whose current SaveChanges queued deliveries: the dispatcher is woken once it has saved.</summary>
    private readonly ConditionalWeakTable<DbContext, object> _queued = [];

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        if (eventData.Context is TesseraDbContext db)
        {
            // Synchronous SaveChanges: the list is in memory nearly always; a load blocks as the caller chose to.
            var active = LoadAsync(CancellationToken.None);
            if (Match(db, active.IsCompletedSuccessfully ? active.Result : active.AsTask().GetAwaiter().GetResult()) is { } matches)
            {
                var ids = Candidates(matches);
                Queue(db, matches, [.. db.WebhookSubscriptions.AsNoTracking().Where(s => ids.Contains(s.Id) && s.Enabled).Select(s => s.Id)]);
            }
        }

        return result;
    }

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        if (eventData.Context is TesseraDbContext db && Match(db, await LoadAsync(cancellationToken)) is { } matches)
        {
            var ids = Candidates(matches);
            Queue(db, matches, [.. await db.WebhookSubscriptions.AsNoTracking().Where(s => ids.Contains(s.Id) && s.Enabled).Select(s => s.Id).ToListAsync(cancellationToken)]);
        }

        return result;
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData) => Forget(eventData.Context);

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    private async ValueTask<IReadOnlyList<ActiveWebhook>> LoadAsync(CancellationToken ct)
    {
        if (subscriptions.TryGetCached(out var cached))
        {
            return cached;
        }

        // Only when the list must be read: a scope and a pooled context cost about 10 to 30 µs even unused.
        await using var scope = scopes.CreateAsyncScope();
        return await subscriptions.GetAsync(scope.ServiceProvider.GetRequiredService<TesseraDbContext>(), ct);
    }

    /// <summary>The added audit events and the cached subscriptions that take them; null when there are none (nearly always).</summary>
    private static List<(AuditEvent Event, Guid Subscription)>? Match(TesseraDbContext db, IReadOnlyList<ActiveWebhook> active)
    {
        if (active.Count == 0)
        {
            return null;
        }

        var tracker = db.ChangeTracker;
        // Audit events are always added explicitly (Add/AddRange), so their state is known without DetectChanges,
        // which SaveChanges runs right after this anyway.
        var detect = tracker.AutoDetectChangesEnabled;
        tracker.AutoDetectChangesEnabled = false;
        try
        {
            List<AuditEvent>? added = null;
            HashSet<Guid>? leaving = null;
            foreach (var entry in tracker.Entries())
            {
                switch (entry.Entity)
                {
                    case AuditEvent e when entry.State == EntityState.Added:
                        (added ??= []).Add(e);
                        break;

                    // A subscription disabled or deleted in this very unit of work (a user, or the dispatcher after 24 h
                    // of failures) gets nothing more, though the cache still lists it until the commit.
                    case WebhookSubscription s when entry.State == EntityState.Deleted || !s.Enabled:
                        (leaving ??= []).Add(s.Id);
                        break;
                }
            }

            if (added is null)
            {
                return null;
            }

            List<(AuditEvent, Guid)>? matches = null;
            foreach (var e in added)
            {
                foreach (var webhook in active)
                {
                    if (webhook.Filter.Matches(e.Action) && leaving?.Contains(webhook.Id) != true)
                    {
                        (matches ??= []).Add((e, webhook.Id));
                    }
                }
            }

            return matches;
        }
        finally
        {
            tracker.AutoDetectChangesEnabled = detect;
        }
    }

    private static List<Guid> Candidates(List<(AuditEvent Event, Guid Subscription)> matches) => [.. matches.Select(m => m.Subscription).Distinct()];

    /// <summary>
    /// Adds the deliveries of the subscriptions still enabled in the database. The cache may lag a subscription deleted
    /// or disabled an instant ago (on another instance, until its notification arrives): a delivery for a deleted one
    /// would break the foreign key and fail the caller's whole change, so the cached list is checked in the caller's
    /// own transaction, one indexed query, only when some event matched.
    /// </summary>
    private void Queue(TesseraDbContext db, List<(AuditEvent Event, Guid Subscription)> matches, HashSet<Guid> enabled)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var queued = false;
        foreach (var (e, subscription) in matches)
        {
            if (enabled.Contains(subscription))
            {
                // The navigation, not the id: the event's id is assigned by the insert, and EF Core fixes it up.
                db.WebhookDeliveries.Add(new WebhookDelivery
                {
                    SubscriptionId = subscription,
                    AuditEvent = e,
                    EventType = e.Action,
                    Status = WebhookDeliveryStatus.Pending,
                    CreatedAt = now,
                    NextAttemptAt = now,
                });
                queued = true;
            }
        }

        if (queued)
        {
            _queued.AddOrUpdate(db, signal);
        }
    }

    private void Saved(DbContext? db)
    {
        // Saved, though perhaps not yet committed (an explicit transaction): a dispatcher woken too early finds
        // nothing due and finds the deliveries at its next poll.
        if (db is not null && _queued.Remove(db))
        {
            signal.Wake();
        }
    }

    private void Forget(DbContext? db)
    {
        if (db is not null)
        {
            _queued.Remove(db);
        }
    }
}

/// <summary>Wakes <see cref="WebhookDispatcher"/> when this instance has queued deliveries, so it need not wait for its poll.</summary>
public sealed class WebhookDeliverySignal : IDisposable
{
    private readonly SemaphoreSlim _pending = new(0, 1);

    public void Wake()
    {
        try
        {
            _pending.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken; one wake-up covers any number of new deliveries.
        }
    }

    /// <summary>Waits for a wake-up or the poll interval, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan poll, CancellationToken ct) => _pending.WaitAsync(poll, ct);

    public void Dispose() => _pending.Dispose();
}
