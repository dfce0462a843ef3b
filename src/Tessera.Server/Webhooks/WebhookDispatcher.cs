using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Server.Audit;
using Tessera.Server.Bootstrap;
using Tessera.Server.Observability;
using Tessera.Server.Storage;

namespace Tessera.Server.Webhooks;

/// <summary>The body of a delivery, in the Standard Webhooks shape: the audit action, the event's time, the event as the audit API shows it.</summary>
public sealed record WebhookPayload(string Type, DateTime Timestamp, AuditEventResponse Data);

/// <summary>
/// Sends the queued webhook deliveries (see <see cref="WebhookFanOut"/>): at least once, and in order per subscription.
/// Only the head of a subscription's queue (its pending delivery with the lowest audit event id) is ever sent, and only
/// when due; a claimed head is not due for anyone else while its lease runs, so no instance sends the next one before
/// it is delivered. Subscriptions proceed in parallel. A failure backs off on the Standard Webhooks schedule; a
/// subscription whose deliveries have all failed for <see cref="DisableAfter"/> is disabled with a `webhook.disabled`
/// audit event, and its pending deliveries are abandoned.
/// </summary>
public sealed class WebhookDispatcher(
    IServiceScopeFactory scopes,
    IHttpClientFactory http,
    WebhookSecrets secrets,
    WebhookSubscriptionCache subscriptions,
    WebhookDeliverySignal signal,
    BootstrapGate bootstrap,
    IOptions<WebhookOptions> options,
    TesseraMetrics metrics,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : QueueDispatcher(bootstrap, logger)
{
    public const string HttpClientName = "Tessera.Webhooks";
    public const string UserAgent = "Tessera-Webhooks";

    /// <summary>
    /// How long a claim keeps the head of a queue away from every other instance: far longer than one attempt may take
    /// (Tessera:Webhooks:TimeoutSeconds is at most 60 s). An instance that dies mid-attempt leaves it due again when the
    /// lease ends; the receiver may then get it twice, which the webhook-id lets it recognise.
    /// </summary>
    internal static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    /// <summary>How long a subscription may fail every delivery before it is disabled.</summary>
    internal static readonly TimeSpan DisableAfter = TimeSpan.FromHours(24);

    /// <summary>The Standard Webhooks schedule after the first attempt; the last step repeats.</summary>
    internal static readonly IReadOnlyList<TimeSpan> Schedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10),
    ];

    /// <summary>Subscriptions sent to at once by one instance: a slow receiver holds up its own queue, not the others.</summary>
    private const int MaxParallel = 8;

    private const int BatchSize = 100;
    private const int MaxBodyEcho = 200;
    private const int MaxErrorLength = 1000;
    private const int MaxReasonLength = 500;

    /// <summary>The wait before the attempt after <paramref name="attempts"/> failed ones.</summary>
    public static TimeSpan RetryDelay(int attempts) => Schedule[Math.Clamp(attempts, 1, Schedule.Count) - 1];

    protected override string QueueName => "The webhook deliveries";

    protected override int PollSeconds => options.Value.PollSeconds;

    /// <summary>A delivered head makes the next one of its queue due at once: look again without waiting.</summary>
    protected override Task IdleAsync(int handled, CancellationToken ct)
        => handled == 0 ? signal.WaitAsync(TimeSpan.FromSeconds(options.Value.PollSeconds), ct) : Task.CompletedTask;

    /// <summary>One pass: sends the due head of every queue; returns how many were due.</summary>
    internal override async Task<int> DispatchDueAsync(CancellationToken ct)
    {
        List<Guid> heads;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
            var now = clock.GetUtcNow().UtcDateTime;
            heads = await db.WebhookDeliveries.AsNoTracking()
                .Where(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now
                            && db.WebhookSubscriptions.Any(s => s.Id == d.SubscriptionId && s.Enabled)
                            && !db.WebhookDeliveries.Any(o => o.SubscriptionId == d.SubscriptionId && o.Status == WebhookDeliveryStatus.Pending && o.AuditEventId < d.AuditEventId))
                .OrderBy(d => d.NextAttemptAt)
                .Select(d => d.Id)
                .Take(BatchSize)
                .ToListAsync(ct);
        }

        if (heads.Count == 0)
        {
            return 0;
        }

        await Parallel.ForEachAsync(heads, new ParallelOptions { MaxDegreeOfParallelism = MaxParallel, CancellationToken = ct }, DispatchAsync);
        return heads.Count;
    }

    private async ValueTask DispatchAsync(Guid id, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;

        // The claim: one conditional UPDATE. Only the instance whose UPDATE changes the row sends; the lease moves
        // NextAttemptAt ahead, so the head is no longer due for anyone else, and the rest of its queue waits behind it.
        var lease = now + Lease;
        var claimed = await db.WebhookDeliveries
            .Where(d => d.Id == id && d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, lease).SetProperty(d => d.Attempts, d => d.Attempts + 1), ct);
        if (claimed == 0)
        {
            return;
        }

        var delivery = await db.WebhookDeliveries.Include(d => d.AuditEvent).SingleOrDefaultAsync(d => d.Id == id, ct);
        var subscription = delivery is null ? null : await db.WebhookSubscriptions.SingleOrDefaultAsync(s => s.Id == delivery.SubscriptionId, ct);
        if (delivery is null || subscription is null)
        {
            // Deleted with its subscription meanwhile.
            return;
        }

        if (!subscription.Enabled)
        {
            delivery.Status = WebhookDeliveryStatus.Abandoned;
            await db.SaveChangesAsync(CancellationToken.None);
            return;
        }

        int? status = null;
        string? error;
        try
        {
            (status, error) = await SendAsync(delivery, subscription, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down mid-attempt: give the head back at once rather than at the end of the lease.
            await db.WebhookDeliveries
                .Where(d => d.Id == id && d.Status == WebhookDeliveryStatus.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, now).SetProperty(d => d.Attempts, d => d.Attempts - 1), CancellationToken.None);
            throw;
        }

        // From here the outcome is saved even if shutdown began: a delivered event must not be sent again.
        var done = clock.GetUtcNow().UtcDateTime;
        delivery.LastAttemptAt = now;
        delivery.LastStatusCode = status;
        var receiver = Receiver(subscription.Url);
        if (error is null)
        {
            delivery.Status = WebhookDeliveryStatus.Delivered;
            delivery.DeliveredAt = done;
            delivery.LastError = null;
            subscription.FailingSince = null;
            await db.SaveChangesAsync(CancellationToken.None);
            metrics.WebhookDeliveries.Add(1, new KeyValuePair<string, object?>("outcome", "delivered"));
            return;
        }

        metrics.WebhookDeliveries.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
        delivery.LastError = error;
        subscription.FailingSince ??= now;
        if (done - subscription.FailingSince.Value >= DisableAfter)
        {
            await DisableAsync(db, scope.ServiceProvider.GetRequiredService<AuditLog>(), subscription, delivery, receiver, done);
            return;
        }

        delivery.NextAttemptAt = done + RetryDelay(delivery.Attempts);
        await db.SaveChangesAsync(CancellationToken.None);
        logger.LogWarning("Webhook delivery {DeliveryId} to {Receiver}: attempt {Attempts} failed ({Error}); next attempt at {NextAttemptAt:O}.",
            delivery.Id, receiver, delivery.Attempts, error, delivery.NextAttemptAt);
    }

    /// <summary>One attempt: the status the receiver answered (null without an answer), and what went wrong (null on 2xx).</summary>
    private async Task<(int? Status, string? Error)> SendAsync(WebhookDelivery delivery, WebhookSubscription subscription, CancellationToken ct)
    {
        byte[]? key;
        try
        {
            key = WebhookSecrets.Key(secrets.Unprotect(subscription.Secret));
        }
        catch (CryptographicException)
        {
            key = null;
        }

        if (key is null)
        {
            return (null, "The subscription's secret cannot be read (its Data Protection key is missing, or it is malformed): set a new secret.");
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(Payload(delivery.AuditEvent!), JsonSerializerOptions.Web);
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        var webhookId = delivery.Id.ToString();
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, subscription.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("webhook-id", webhookId);
            request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSignature.Sign(key, webhookId, timestamp, body));

            using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return (status, null);
            }

            var excerpt = await ExcerptAsync(response, ct);
            return (status, OneLine($"HTTP {status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}{(excerpt.Length > 0 ? ": " + excerpt : "")}"));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, $"No answer within {options.Value.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s " +
                          $"(gave up after {Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s).");
        }
        catch (HttpRequestException e)
        {
            return (null, OneLine($"{e.HttpRequestError}: {e.Message}"));
        }
        catch (Exception e) when (e is UriFormatException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            // A URL HttpClient cannot use (stored before a stricter rule, or edited in the database): a failed attempt
            // like any other, so that it is visible in the delivery log and ends in the 24 h disable.
            return (null, OneLine($"The subscription's URL cannot be used: {e.Message}"));
        }
    }

    internal static WebhookPayload Payload(AuditEvent e) => new(e.Action, DateTime.SpecifyKind(e.At, DateTimeKind.Utc), AuditQuery.ToResponse(e));

    private async Task DisableAsync(TesseraDbContext db, AuditLog audit, WebhookSubscription subscription, WebhookDelivery delivery, string receiver, DateTime done)
    {
        var failingSince = DateTime.SpecifyKind(subscription.FailingSince!.Value, DateTimeKind.Utc);
        var reason = $"Disabled by Tessera: every delivery failed from {AuditFilter.Instant(failingSince)} to {AuditFilter.Instant(done)}. Last error: {delivery.LastError}";
        subscription.Enabled = false;
        subscription.DisabledReason = reason.Length > MaxReasonLength ? reason[..MaxReasonLength] : reason;
        subscription.UpdatedAt = done;
        delivery.Status = WebhookDeliveryStatus.Abandoned;
        audit.Record(db, "webhook.disabled", "webhook", subscription.Id.ToString(), receiver,
            new { url = receiver, failingSince, lastStatusCode = delivery.LastStatusCode }, "failure", Actor.System);

        // The disable, its audit event and the abandoned queue commit together.
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        await db.SaveChangesAsync(CancellationToken.None);
        var abandoned = await db.WebhookDeliveries
            .Where(d => d.SubscriptionId == subscription.Id && d.Status == WebhookDeliveryStatus.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, WebhookDeliveryStatus.Abandoned), CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        subscriptions.Invalidate();
        logger.LogError("Webhook subscription {SubscriptionId} was disabled: every delivery to {Receiver} failed for {Hours} hours (last: {Error}); {Abandoned} pending deliveries were abandoned.",
            subscription.Id, receiver, DisableAfter.TotalHours, delivery.LastError, abandoned + 1);
    }

    /// <summary>The receiver's address without its query string or fragment, which may carry a token: for logs and the audit log.</summary>
    internal static string Receiver(string url)
        => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : "(invalid URL)";

    /// <summary>The start of the receiver's answer, for the delivery log: enough to tell an error page from another.</summary>
    private static async Task<string> ExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[MaxBodyEcho * 4];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
            var text = OneLine(Encoding.UTF8.GetString(buffer, 0, read));
            return text.Length > MaxBodyEcho ? text[..MaxBodyEcho] + "…" : text;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return "";
        }
    }

    private static string OneLine(string text)
    {
        text = string.Join(' ', text.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();
        return text.Length > MaxErrorLength ? text[..MaxErrorLength] : text;
    }
}
