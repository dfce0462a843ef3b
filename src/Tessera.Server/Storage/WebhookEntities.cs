using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Tessera.Server.Storage;

/// <summary>
/// A webhook subscription: where audit events of the listed types are sent, signed with the subscription's
/// secret (Standard Webhooks). Managed under MANAGE_WEBHOOKS.
/// </summary>
public sealed class WebhookSubscription
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>The receiver: https, or http to a loopback or private address where Tessera:Webhooks allows it.</summary>
    public required string Url { get; set; }

    public string Description { get; set; } = "";

    /// <summary>
    /// The audit actions sent, comma-separated: exact actions (`user.disabled`), a prefix ending in `.*`
    /// (`user.*`), or `*` for every action.
    /// </summary>
    public required string EventTypes { get; set; }

    /// <summary>The signing secret (`whsec_` + base64 of the key), protected with Data Protection at rest.</summary>
    public required string Secret { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>Why it was disabled by Tessera (after failing for 24 h); null when enabled or disabled by a user.</summary>
    public string? DisabledReason { get; set; }

    /// <summary>Since when every delivery has failed; null while the receiver answers.</summary>
    public DateTime? FailingSince { get; set; }

    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>The values of <see cref="WebhookDelivery.Status"/>.</summary>
public static class WebhookDeliveryStatus
{
    /// <summary>Waiting for its (next) attempt.</summary>
    public const string Pending = "pending";

    /// <summary>The receiver answered 2xx.</summary>
    public const string Delivered = "delivered";

    /// <summary>Not delivered and never will be: the subscription was disabled or deleted while it waited.</summary>
    public const string Abandoned = "abandoned";
}

/// <summary>
/// One audit event on its way to one subscription: the durable outbox row, written in the same transaction as
/// the event itself. Its id is the `webhook-id` of every attempt, so a receiver can drop a repeat. Deliveries of
/// one subscription go out in the order of their audit events.
/// </summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid SubscriptionId { get; set; }
    public long AuditEventId { get; set; }
    public AuditEvent? AuditEvent { get; set; }

    /// <summary>The audit action, as the event filter matched it.</summary>
    public required string EventType { get; set; }

    public string Status { get; set; } = WebhookDeliveryStatus.Pending;
    public int Attempts { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime NextAttemptAt { get; set; }
    public DateTime? LastAttemptAt { get; set; }
    public DateTime? DeliveredAt { get; set; }

    /// <summary>The HTTP status of the last attempt; null when it got no answer.</summary>
    public int? LastStatusCode { get; set; }

    /// <summary>What went wrong in the last attempt, in one line.</summary>
    public string? LastError { get; set; }
}

internal sealed class WebhookSubscriptionConfiguration : IEntityTypeConfiguration<WebhookSubscription>
{
    public void Configure(EntityTypeBuilder<WebhookSubscription> e)
    {
        e.ToTable("webhook_subscriptions");
        e.HasKey(w => w.Id);
        e.Property(w => w.Url).HasMaxLength(2000);
        e.Property(w => w.Description).HasMaxLength(500);
        e.Property(w => w.EventTypes).HasMaxLength(4000);
        e.Property(w => w.Secret).HasMaxLength(2000);
        e.Property(w => w.DisabledReason).HasMaxLength(500);
        e.HasIndex(w => w.CreatedAt);
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> e)
    {
        e.ToTable("webhook_deliveries");
        e.HasKey(d => d.Id);
        e.Property(d => d.EventType).HasMaxLength(100);
        e.Property(d => d.Status).HasMaxLength(16);
        e.Property(d => d.LastError).HasMaxLength(1000);
        e.HasOne<WebhookSubscription>().WithMany().HasForeignKey(d => d.SubscriptionId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne(d => d.AuditEvent).WithMany().HasForeignKey(d => d.AuditEventId).OnDelete(DeleteBehavior.Cascade);

        // The head of each subscription's queue, and the log newest first.
        e.HasIndex(d => new { d.SubscriptionId, d.Status, d.AuditEventId });
        e.HasIndex(d => new { d.Status, d.NextAttemptAt });
        e.HasIndex(d => new { d.SubscriptionId, d.CreatedAt });
        e.HasIndex(d => d.AuditEventId);
    }
}
