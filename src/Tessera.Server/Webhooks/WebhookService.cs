using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Webhooks;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.Webhooks;

/// <summary>
/// The use cases of webhook subscriptions, for the REST API and the Back Office page alike: list, read, create,
/// replace, delete, and the delivery log. Each change is audited in its own transaction and then clears the
/// in-memory list of enabled subscriptions on every instance.
/// </summary>
public sealed class WebhookService(
    TesseraDbContext db, AuditLog audit, TimeProvider clock, WebhookSecrets secrets, WebhookUrlRules urls, WebhookSubscriptionCache cache)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public async Task<Outcome<WebhookPage>> ListAsync(WebhookQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = Limit(query.Limit, errors);
        (DateTime At, Guid Id)? after = null;
        if (query.Cursor is not null)
        {
            after = DecodeSubscriptionCursor(query.Cursor);
            if (after is null)
            {
                errors["cursor"] = [Paging.CursorMessage];
            }
        }

        if (errors.Count > 0)
        {
            return Paging.Refuse(errors);
        }

        var subscriptions = db.WebhookSubscriptions.AsNoTracking();
        if (after is var (at, id))
        {
            subscriptions = subscriptions.Where(s => s.CreatedAt < at || (s.CreatedAt == at && s.Id.CompareTo(id) < 0));
        }

        var page = await subscriptions.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            var last = page[^1];
            next = Encode($"{last.CreatedAt.Ticks.ToString(CultureInfo.InvariantCulture)}|{last.Id:N}");
        }

        return Outcome<WebhookPage>.Ok(new WebhookPage([.. page.Select(s => ToResponse(s))], next));
    }

    public async Task<Outcome<WebhookResponse>> GetAsync(Guid id, CancellationToken ct)
    {
        var subscription = await db.WebhookSubscriptions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, ct);
        return subscription is null ? NotFound(id) : Outcome<WebhookResponse>.Ok(ToResponse(subscription));
    }

    public async Task<Outcome<WebhookResponse>> CreateAsync(CreateWebhookRequest request, CancellationToken ct)
    {
        var (filter, errors) = await ValidateAsync(request.Url, request.Description, request.EventTypes, request.Secret, enabledGiven: true, ct);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var secret = request.Secret ?? WebhookSecrets.Generate();
        var subscription = new WebhookSubscription
        {
            Url = request.Url!.Trim(),
            Description = request.Description?.Trim() ?? "",
            EventTypes = filter!.Stored,
            Secret = secrets.Protect(secret),
            Enabled = request.Enabled ?? true,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.WebhookSubscriptions.Add(subscription);
        audit.Record(db, "webhook.created", "webhook", subscription.Id.ToString(), subscription.Url, Details(subscription, filter, secretChanged: true));
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return Outcome<WebhookResponse>.Ok(ToResponse(subscription, secret));
    }

    /// <summary>
    /// Replaces the subscription. Disabling it abandons its pending deliveries in the same transaction: a receiver
    /// switched off is not caught up with what happened meanwhile when it is switched on again. Enabling clears
    /// what Tessera recorded when it disabled the subscription itself.
    /// </summary>
    public async Task<Outcome<WebhookResponse>> UpdateAsync(Guid id, UpdateWebhookRequest request, CancellationToken ct)
    {
        var (filter, errors) = await ValidateAsync(request.Url, request.Description, request.EventTypes, request.Secret, enabledGiven: request.Enabled is not null, ct);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var subscription = await db.WebhookSubscriptions.SingleOrDefaultAsync(s => s.Id == id, ct);
        if (subscription is null)
        {
            return NotFound(id);
        }

        var wasEnabled = subscription.Enabled;
        subscription.Url = request.Url!.Trim();
        subscription.Description = request.Description?.Trim() ?? "";
        subscription.EventTypes = filter!.Stored;
        subscription.Enabled = request.Enabled!.Value;
        if (request.Secret is not null)
        {
            subscription.Secret = secrets.Protect(request.Secret);
        }

        var abandoned = 0;
        if (wasEnabled && !subscription.Enabled)
        {
            abandoned = await db.WebhookDeliveries.Where(d => d.SubscriptionId == id && d.Status == WebhookDeliveryStatus.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, WebhookDeliveryStatus.Abandoned), ct);
        }
        else if (!wasEnabled && subscription.Enabled)
        {
            subscription.DisabledReason = null;
            subscription.FailingSince = null;
        }

        subscription.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        var details = Details(subscription, filter, secretChanged: request.Secret is not null);
        details["abandonedDeliveries"] = abandoned;
        audit.Record(db, "webhook.updated", "webhook", subscription.Id.ToString(), subscription.Url, details);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        cache.Invalidate();
        return Outcome<WebhookResponse>.Ok(ToResponse(subscription, request.Secret));
    }

    /// <summary>Deletes the subscription and, by the cascade, its delivery log and pending deliveries.</summary>
    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
    {
        var subscription = await db.WebhookSubscriptions.SingleOrDefaultAsync(s => s.Id == id, ct);
        if (subscription is null)
        {
            return NotFound(id).Failure;
        }

        db.WebhookSubscriptions.Remove(subscription);
        audit.Record(db, "webhook.deleted", "webhook", subscription.Id.ToString(), subscription.Url,
            new { url = subscription.Url, eventTypes = EventFilter.FromStored(subscription.EventTypes).Entries, enabled = subscription.Enabled });
        await db.SaveChangesAsync(ct);
        cache.Invalidate();
        return null;
    }

    /// <summary>
    /// The delivery log of a subscription, newest first, in keyset pages by audit event id: the fan-out writes one
    /// delivery per subscription and audit event, so the id orders and identifies a subscription's deliveries.
    /// </summary>
    public async Task<Outcome<WebhookDeliveryPage>> DeliveriesAsync(Guid id, WebhookDeliveryQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = Limit(query.Limit, errors);
        var status = query.Status?.Trim().ToLowerInvariant();
        if (status is not null && status is not (WebhookDeliveryStatus.Pending or WebhookDeliveryStatus.Delivered or WebhookDeliveryStatus.Abandoned))
        {
            errors["status"] = ["status must be pending, delivered or abandoned."];
        }

        long? before = null;
        if (query.Cursor is not null)
        {
            if (Decode(query.Cursor) is { } text && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                before = parsed;
            }
            else
            {
                errors["cursor"] = [Paging.CursorMessage];
            }
        }

        if (errors.Count > 0)
        {
            return Paging.Refuse(errors);
        }

        if (!await db.WebhookSubscriptions.AnyAsync(s => s.Id == id, ct))
        {
            return Failure.NotFound($"No webhook subscription has the id {id}.");
        }

        var deliveries = db.WebhookDeliveries.AsNoTracking().Where(d => d.SubscriptionId == id);
        if (status is not null)
        {
            deliveries = deliveries.Where(d => d.Status == status);
        }

        if (before is { } below)
        {
            deliveries = deliveries.Where(d => d.AuditEventId < below);
        }

        var page = await deliveries.OrderByDescending(d => d.AuditEventId).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            next = Encode(page[^1].AuditEventId.ToString(CultureInfo.InvariantCulture));
        }

        return Outcome<WebhookDeliveryPage>.Ok(new WebhookDeliveryPage([.. page.Select(ToResponse)], next));
    }

    public static WebhookResponse ToResponse(WebhookSubscription s, string? secret = null)
        => new(s.Id, s.Url, s.Description, EventFilter.FromStored(s.EventTypes).Entries, s.Enabled, s.DisabledReason, Utc(s.FailingSince),
            Utc(s.CreatedAt), Utc(s.UpdatedAt)) { Secret = secret };

    public static WebhookDeliveryResponse ToResponse(WebhookDelivery d)
        => new(d.Id, d.EventType, d.AuditEventId, d.Status, d.Attempts, Utc(d.CreatedAt), Utc(d.LastAttemptAt),
            d.Status == WebhookDeliveryStatus.Pending ? Utc(d.NextAttemptAt) : null, Utc(d.DeliveredAt), d.LastStatusCode, d.LastError);

    private async Task<(EventFilter? Filter, Dictionary<string, string[]> Errors)> ValidateAsync(
        string? url, string? description, IReadOnlyList<string?>? eventTypes, string? secret, bool enabledGiven, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (await urls.CheckAsync(url, ct) is { } urlError)
        {
            errors["url"] = [urlError];
        }

        if (description is { Length: > 500 })
        {
            errors["description"] = ["description may be at most 500 characters long."];
        }

        var (filter, problems) = EventFilter.Parse(eventTypes);
        foreach (var group in problems.GroupBy(p => p.Index))
        {
            errors[group.Key < 0 ? "eventTypes" : $"eventTypes[{group.Key}]"] = [.. group.Select(p => p.Problem)];
        }

        if (secret is not null && WebhookSecrets.Key(secret) is null)
        {
            errors["secret"] = [$"secret must be {WebhookSecrets.Prefix} followed by the base64 of {WebhookSecrets.MinBytes} to {WebhookSecrets.MaxBytes} random bytes; leave it out to have one generated."];
        }

        if (!enabledGiven)
        {
            errors["enabled"] = ["enabled is required: true to send deliveries, false to stop them."];
        }

        return (filter, errors);
    }

    private static Dictionary<string, object?> Details(WebhookSubscription s, EventFilter filter, bool secretChanged) => new()
    {
        ["url"] = s.Url,
        ["eventTypes"] = filter.Entries,
        ["enabled"] = s.Enabled,
        ["secretChanged"] = secretChanged,
    };

    private static int Limit(int? limit, Dictionary<string, string[]> errors)
    {
        var size = limit ?? DefaultLimit;
        if (size is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        return size;
    }

    private static (DateTime, Guid)? DecodeSubscriptionCursor(string cursor)
        => Decode(cursor)?.Split('|') is [var ticks, var id]
           && long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t <= DateTime.MaxValue.Ticks
           && Guid.TryParseExact(id, "N", out var g)
            ? (new DateTime(t, DateTimeKind.Utc), g)
            : null;

    private static string Encode(string value) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(value));

    private static string? Decode(string cursor)
    {
        try
        {
            return Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(cursor));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static DateTime Utc(DateTime at) => DateTime.SpecifyKind(at, DateTimeKind.Utc);

    private static DateTime? Utc(DateTime? at) => at is { } value ? Utc(value) : null;

    private static Failure Invalid(Dictionary<string, string[]> errors)
        => Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);

    private static Outcome<WebhookResponse> NotFound(Guid id) => Failure.NotFound($"No webhook subscription has the id {id}.");
}
