using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Webhooks;

/// <summary>
/// A webhook subscription as the API shows it. <see cref="Secret"/> is set only in the answer that created the
/// subscription or replaced its secret: it is shown once and never again (null, and left out of the JSON, otherwise).
/// </summary>
public sealed record WebhookResponse(
    Guid Id,
    string Url,
    string Description,
    IReadOnlyList<string> EventTypes,
    bool Enabled,
    string? DisabledReason,
    DateTime? FailingSince,
    DateTime CreatedAt,
    DateTime UpdatedAt)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }
}

/// <summary>
/// POST /api/v1/webhooks. Enabled defaults to true; a secret left out is generated (and shown once in the answer).
/// </summary>
public sealed record CreateWebhookRequest(
    [Required] string? Url,
    string? Description,
    [Required] List<string?>? EventTypes,
    bool? Enabled,
    string? Secret);

/// <summary>
/// PUT /api/v1/webhooks/{id}: the subscription as it shall be. Description left out becomes empty; a secret given
/// replaces the old one (and is shown once in the answer), left out keeps it.
/// </summary>
public sealed record UpdateWebhookRequest(
    [Required] string? Url,
    string? Description,
    [Required] List<string?>? EventTypes,
    [Required] bool? Enabled,
    string? Secret);

/// <summary>The page of a subscription list.</summary>
public sealed record WebhookQuery(
    [property: Description("Subscriptions per page, 1 to 200; 50 when left out.")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);

/// <summary>One page of subscriptions, newest first, and the cursor of the next (null on the last page).</summary>
public sealed record WebhookPage(IReadOnlyList<WebhookResponse> Items, string? NextCursor);

/// <summary>The filter and page of a subscription's delivery log.</summary>
public sealed record WebhookDeliveryQuery(
    [property: Description("Deliveries in this status only: pending, delivered or abandoned.")] string? Status = null,
    [property: Description("Deliveries per page, 1 to 200; 50 when left out.")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);

/// <summary>
/// One delivery of an audit event to a subscription. <see cref="Id"/> is the `webhook-id` the receiver sees in
/// every attempt.
/// </summary>
public sealed record WebhookDeliveryResponse(
    Guid Id,
    string EventType,
    long AuditEventId,
    string Status,
    int Attempts,
    DateTime CreatedAt,
    DateTime? LastAttemptAt,
    DateTime? NextAttemptAt,
    DateTime? DeliveredAt,
    int? LastStatusCode,
    string? LastError);

/// <summary>One page of the delivery log, newest first, and the cursor of the next (null on the last page).</summary>
public sealed record WebhookDeliveryPage(IReadOnlyList<WebhookDeliveryResponse> Items, string? NextCursor);
