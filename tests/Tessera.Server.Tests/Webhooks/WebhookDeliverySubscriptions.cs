using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Webhooks;

namespace Tessera.Server.Tests.Webhooks;

/// <summary>
/// Arranges webhook subscriptions and audit events for the delivery tests. Subscriptions are written straight to the
/// database, as the subscription use case stores them (secret protected, cache cleared after the commit); this is the
/// one place to switch to POST /api/v1/webhooks.
/// </summary>
internal static class WebhookDeliverySubscriptions
{
    public static async Task<Guid> CreateAsync(TesseraApp app, string url, string eventTypes, string secret)
    {
        Guid id;
        await using (var scope = app.Scope(out var db))
        {
            var now = app.Clock.GetUtcNow().UtcDateTime;
            var subscription = new WebhookSubscription
            {
                Url = url,
                Description = "delivery test",
                EventTypes = eventTypes,
                Secret = scope.ServiceProvider.GetRequiredService<WebhookSecrets>().Protect(secret),
                CreatedAt = now,
                UpdatedAt = now,
            };
            db.WebhookSubscriptions.Add(subscription);
            await db.SaveChangesAsync();
            id = subscription.Id;
        }

        app.Services.GetRequiredService<WebhookSubscriptionCache>().Invalidate();
        return id;
    }

    /// <summary>Disables a subscription, as a user would, so that it takes no events of later tests.</summary>
    public static async Task DisableAsync(TesseraApp app, Guid id)
    {
        await using (var scope = app.Scope(out var db))
        {
            await db.WebhookSubscriptions.Where(s => s.Id == id).ExecuteUpdateAsync(s => s.SetProperty(w => w.Enabled, false));
        }

        app.Services.GetRequiredService<WebhookSubscriptionCache>().Invalidate();
    }

    /// <summary>Writes one audit event per action, each in its own unit of work (as separate requests would); returns their ids.</summary>
    public static async Task<IReadOnlyList<long>> RecordAsync(TesseraApp app, params string[] actions)
    {
        var ids = new List<long>();
        foreach (var action in actions)
        {
            await using var scope = app.Scope(out var db);
            var entry = scope.ServiceProvider.GetRequiredService<AuditLog>()
                .Record(db, action, "test", ids.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), "webhook test", new { n = ids.Count }, actor: Actor.System);
            await db.SaveChangesAsync();
            ids.Add(entry.Id);
        }

        return ids;
    }

    public static async Task<List<WebhookDelivery>> DeliveriesAsync(TesseraApp app, Guid subscriptionId)
    {
        await using var scope = app.Scope(out var db);
        return await db.WebhookDeliveries.AsNoTracking().Where(d => d.SubscriptionId == subscriptionId).OrderBy(d => d.AuditEventId).ToListAsync();
    }

    /// <summary>Polls the stored deliveries of a subscription until <paramref name="done"/> holds.</summary>
    public static async Task<List<WebhookDelivery>> WaitForDeliveriesAsync(TesseraApp app, Guid subscriptionId, Func<List<WebhookDelivery>, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var rows = await DeliveriesAsync(app, subscriptionId);
            if (done(rows))
            {
                return rows;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException("The stored deliveries did not reach the expected state: " +
                    string.Join("; ", rows.Select(r => $"{r.AuditEventId} {r.Status} attempts={r.Attempts} next={r.NextAttemptAt:O} error={r.LastError}")));
            }

            await Task.Delay(100);
        }
    }
}
