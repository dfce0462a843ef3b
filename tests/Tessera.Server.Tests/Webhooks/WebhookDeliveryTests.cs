using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Webhooks;
using static Tessera.Server.Tests.Webhooks.WebhookDeliverySubscriptions;

namespace Tessera.Server.Tests.Webhooks;

public sealed class SqliteWebhookDeliveryTests(SqliteWebhookHost host) : WebhookDeliveryTests(host), IClassFixture<SqliteWebhookHost>;

public sealed class PostgresWebhookDeliveryTests(PostgresWebhookHost host) : WebhookDeliveryTests(host), IClassFixture<PostgresWebhookHost>;

/// <summary>A host that may deliver to loopback over http, and a real receiver, per test class and provider.</summary>
public abstract class WebhookHost(string provider) : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Tessera:Webhooks:AllowPrivateHttp"] = "true",
        ["Tessera:Webhooks:PollSeconds"] = "1",
        ["Tessera:Webhooks:TimeoutSeconds"] = "5",
    };

    public string Provider => provider;

    public TesseraApp App { get; private set; } = null!;

    public WebhookReceiverProcess Receiver { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Receiver = await WebhookReceiverProcess.StartAsync(WebhookSecrets.Generate());
        App = new TesseraApp(TestDatabase.Create(provider), Settings).Started();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

public sealed class SqliteWebhookHost() : WebhookHost("sqlite");

public sealed class PostgresWebhookHost() : WebhookHost("postgres");

/// <summary>
/// The delivery engine end to end: audit events written by the real host, queued in their transaction, sent by the
/// dispatcher over loopback to a receiver that verifies each one with the official Standard Webhooks library.
/// Each test uses its own event-type prefix and receiver path, so the tests of a class share the host.
/// </summary>
public abstract class WebhookDeliveryTests(WebhookHost host)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    private TesseraApp App => host.App;

    private WebhookReceiverProcess Receiver => host.Receiver;

    [Fact]
    public async Task A_delivery_is_signed_so_that_the_standard_webhooks_library_verifies_it_and_one_changed_byte_fails()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        var subscription = await CreateAsync(App, Receiver.Url(name), $"{name}.signed", Receiver.Secret);
        var ids = await RecordAsync(App, $"{name}.signed");

        var received = await Receiver.WaitForAsync(name, r => r.Any(x => x.Accepted), Patience);
        var hook = Assert.Single(received);
        Assert.True(hook.Verified, hook.Error);
        Assert.Equal("application/json", hook.Headers["content-type"]);
        Assert.Equal(WebhookDispatcher.UserAgent, hook.Headers["user-agent"]);
        Assert.Null(hook.Headers["cookie"]);

        var row = Assert.Single(await WaitForDeliveriesAsync(App, subscription, r => r.All(d => d.Status == WebhookDeliveryStatus.Delivered), Patience));
        Assert.Equal(row.Id.ToString(), hook.WebhookId);
        Assert.Equal(1, row.Attempts);
        Assert.Equal(200, row.LastStatusCode);
        Assert.NotNull(row.DeliveredAt);

        // The body: the Standard Webhooks shape around the audit event as the audit API shows it.
        using (var body = JsonDocument.Parse(hook.Body))
        {
            var root = body.RootElement;
            Assert.Equal($"{name}.signed", root.GetProperty("type").GetString());
            var data = root.GetProperty("data");
            Assert.Equal(ids[0], data.GetProperty("id").GetInt64());
            Assert.Equal($"{name}.signed", data.GetProperty("action").GetString());
            Assert.Equal("system", data.GetProperty("actor").GetString());
            Assert.Equal("success", data.GetProperty("outcome").GetString());
            Assert.Equal(0, data.GetProperty("details").GetProperty("n").GetInt32());
            Assert.Equal(data.GetProperty("at").GetDateTime(), root.GetProperty("timestamp").GetDateTime());
            var sent = DateTimeOffset.FromUnixTimeSeconds(long.Parse(hook.Timestamp!, CultureInfo.InvariantCulture));
            Assert.InRange(sent, App.Clock.GetUtcNow().AddMinutes(-1), App.Clock.GetUtcNow().AddSeconds(1));
        }

        var headers = new Dictionary<string, string?>
        {
            ["webhook-id"] = hook.WebhookId,
            ["webhook-timestamp"] = hook.Timestamp,
            ["webhook-signature"] = hook.Headers["webhook-signature"],
        };
        Assert.True((await Receiver.VerifyAsync(headers, hook.Body)).Verified);
        var tampered = hook.Body.Replace("\"n\":0", "\"n\":1", StringComparison.Ordinal);
        Assert.NotEqual(hook.Body, tampered);
        Assert.Equal(hook.Body.Length, tampered.Length);
        var refused = await Receiver.VerifyAsync(headers, tampered);
        Assert.False(refused.Verified);
        Assert.Equal("No matching signature found", refused.Error);

        // The same signature, computed here from the secret.
        Assert.Equal(hook.Headers["webhook-signature"],
            WebhookSignature.Sign(WebhookSecrets.Key(Receiver.Secret)!, hook.WebhookId!, long.Parse(hook.Timestamp!, CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes(hook.Body)));
    }

    [Fact]
    public async Task Twenty_events_arrive_in_audit_order_also_when_the_first_attempt_of_the_first_one_fails()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        await Receiver.AnswerAsync(503);
        IReadOnlyList<long> ids;
        try
        {
            await CreateAsync(App, Receiver.Url(name), $"{name}.*", Receiver.Secret);
            ids = await RecordAsync(App, [.. Enumerable.Range(0, 20).Select(i => $"{name}.step_{i}")]);
            await Receiver.WaitForAsync(name, r => r.Count >= 1, Patience);
        }
        finally
        {
            await Receiver.AnswerAsync(200);
        }

        await AdvanceAsync(TimeSpan.FromSeconds(6));
        var received = await Receiver.WaitForAsync(name, r => r.Count(x => x.Accepted) >= 20, Patience);

        AssertInOrder(received, ids);
        Assert.False(received[0].Accepted);
        Assert.Equal(ids[0], received[0].EventId);
        Assert.Equal(received[0].WebhookId, received.First(r => r.Accepted).WebhookId);
    }

    [Fact]
    public async Task While_the_receiver_is_down_for_30_seconds_the_queue_waits_and_then_every_event_arrives_in_order()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        Guid subscription;
        var ids = new List<long>();
        await Receiver.StopAsync();
        try
        {
            subscription = await CreateAsync(App, Receiver.Url(name), $"{name}.*", Receiver.Secret);
            ids.AddRange(await RecordAsync(App, [.. Enumerable.Range(0, 5).Select(i => $"{name}.before_{i}")]));
            var rows = await WaitForDeliveriesAsync(App, subscription, r => r.Count == 5 && r[0].LastAttemptAt is not null, Patience);
            Assert.Equal(1, rows[0].Attempts);
            Assert.Null(rows[0].LastStatusCode);
            Assert.False(string.IsNullOrEmpty(rows[0].LastError));
            Assert.All(rows.Skip(1), d => Assert.Equal(0, d.Attempts));
            Assert.InRange(rows[0].NextAttemptAt - rows[0].LastAttemptAt!.Value, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));

            // More events while it is down, and 30 s pass: the head is tried again and backs off to 5 minutes.
            ids.AddRange(await RecordAsync(App, [.. Enumerable.Range(0, 5).Select(i => $"{name}.during_{i}")]));
            await AdvanceAsync(TimeSpan.FromSeconds(30));
            // Waits for the second attempt's outcome (a later LastAttemptAt), not just its claim (Attempts 2, the lease).
            var firstAttempt = rows[0].LastAttemptAt;
            rows = await WaitForDeliveriesAsync(App, subscription, r => r.Count == 10 && r[0].LastAttemptAt > firstAttempt, Patience);
            Assert.Equal(2, rows[0].Attempts);
            Assert.InRange(rows[0].NextAttemptAt - rows[0].LastAttemptAt!.Value, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5.1));
            Assert.All(rows.Skip(1), d => Assert.Equal(0, d.Attempts));
            await using (var scope = App.Scope(out var db))
            {
                Assert.NotNull((await db.WebhookSubscriptions.SingleAsync(s => s.Id == subscription)).FailingSince);
            }
        }
        finally
        {
            await Receiver.RestartAsync();
        }

        await AdvanceAsync(TimeSpan.FromMinutes(5));
        var received = await Receiver.WaitForAsync(name, r => r.Count(x => x.Accepted) >= 10, Patience);
        AssertInOrder(received, ids);
        Assert.All(await WaitForDeliveriesAsync(App, subscription, r => r.All(d => d.Status == WebhookDeliveryStatus.Delivered), Patience),
            d => Assert.Equal(d.Id.ToString(), received.Single(r => r.EventId == d.AuditEventId).WebhookId));
        await using (var scope = App.Scope(out var db))
        {
            Assert.Null((await db.WebhookSubscriptions.SingleAsync(s => s.Id == subscription)).FailingSince);
        }
    }

    [Fact]
    public async Task A_restart_of_tessera_mid_retry_loses_nothing_and_retries_with_the_same_webhook_id()
    {
        var name = Unique();
        var database = TestDatabase.Create(host.Provider);
        try
        {
            Guid subscription;
            IReadOnlyList<long> ids;
            string? failedId;
            var first = new TesseraApp(database, WebhookHost.Settings).Started();
            try
            {
                await Receiver.FollowClockAsync(first.Clock);
                await Receiver.AnswerAsync(503);
                subscription = await CreateAsync(first, Receiver.Url(name), $"{name}.*", Receiver.Secret);
                ids = await RecordAsync(first, [.. Enumerable.Range(0, 3).Select(i => $"{name}.step_{i}")]);
                failedId = (await Receiver.WaitForAsync(name, r => r.Count >= 1, Patience))[0].WebhookId;
                await WaitForDeliveriesAsync(first, subscription, r => r[0].LastStatusCode == 503 && r[0].NextAttemptAt > r[0].LastAttemptAt, Patience);
            }
            finally
            {
                await first.DisposeAsync();
                await Receiver.AnswerAsync(200);
            }

            await using (var second = new TesseraApp(database, WebhookHost.Settings).Started())
            {
                second.Clock.Advance(TimeSpan.FromSeconds(10));
                await Receiver.FollowClockAsync(second.Clock);
                var received = await Receiver.WaitForAsync(name, r => r.Count(x => x.Accepted) >= 3, Patience);
                AssertInOrder(received, ids);
                Assert.Equal(failedId, received.First(r => r.Accepted).WebhookId);
                var rows = await WaitForDeliveriesAsync(second, subscription, r => r.All(d => d.Status == WebhookDeliveryStatus.Delivered), Patience);
                Assert.Equal(2, rows[0].Attempts);
            }
        }
        finally
        {
            await database.DisposeAsync();
            await Receiver.FollowClockAsync(App.Clock);
        }
    }

    [Fact]
    public async Task Only_the_event_types_a_subscription_lists_are_delivered_exact_prefix_or_all()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        var sentinel = $"{name}.sentinel";
        await CreateAsync(App, Receiver.Url(name + "_exact"), $"{name}.user.disabled,{sentinel}", Receiver.Secret);
        await CreateAsync(App, Receiver.Url(name + "_prefix"), $"{name}.user.*,{sentinel}", Receiver.Secret);
        var all = await CreateAsync(App, Receiver.Url(name + "_all"), "*", Receiver.Secret);
        try
        {
            await RecordAsync(App, $"{name}.user.disabled", $"{name}.user.created", $"{name}.role.assigned", $"{name}.user", sentinel);

            // Each queue is sent in order: once its sentinel arrived, everything before it that it takes has arrived.
            async Task<List<string>> TypesAsync(string path)
                => [.. (await Receiver.WaitForAsync(path, r => r.Any(x => x.Type == sentinel && x.Accepted), Patience))
                    .Select(r => r.Type ?? "").Where(t => t.StartsWith(name + ".", StringComparison.Ordinal))];

            Assert.Equal(new[] { $"{name}.user.disabled", sentinel }, await TypesAsync(name + "_exact"));
            Assert.Equal(new[] { $"{name}.user.disabled", $"{name}.user.created", sentinel }, await TypesAsync(name + "_prefix"));
            Assert.Equal(new[] { $"{name}.user.disabled", $"{name}.user.created", $"{name}.role.assigned", $"{name}.user", sentinel }, await TypesAsync(name + "_all"));
        }
        finally
        {
            await DisableAsync(App, all);
        }
    }

    [Fact]
    public async Task A_subscription_that_failed_for_24_hours_is_disabled_with_an_audit_event_and_its_queue_is_abandoned()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        await Receiver.AnswerAsync(503);
        Guid subscription;
        try
        {
            subscription = await CreateAsync(App, Receiver.Url(name, "token=not-for-logs"), $"{name}.*", Receiver.Secret);
            await RecordAsync(App, $"{name}.one", $"{name}.two", $"{name}.three");
            await WaitForDeliveriesAsync(App, subscription, r => r.Count == 3 && r[0].LastStatusCode == 503 && r[0].NextAttemptAt > r[0].LastAttemptAt, Patience);

            // Still failing a day later: the next attempt disables it.
            await AdvanceAsync(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1));
            var rows = await WaitForDeliveriesAsync(App, subscription, r => r.All(d => d.Status == WebhookDeliveryStatus.Abandoned), Patience);
            Assert.Equal(2, rows[0].Attempts);
            Assert.All(rows.Skip(1), d => Assert.Equal(0, d.Attempts));
        }
        finally
        {
            await Receiver.AnswerAsync(200);
        }

        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.WebhookSubscriptions.AsNoTracking().SingleAsync(s => s.Id == subscription);
            Assert.False(stored.Enabled);
            Assert.NotNull(stored.FailingSince);
            Assert.StartsWith("Disabled by Tessera: every delivery failed from ", stored.DisabledReason, StringComparison.Ordinal);
            Assert.Contains("HTTP 503", stored.DisabledReason, StringComparison.Ordinal);

            var disabled = await db.AuditEvents.AsNoTracking().SingleAsync(e => e.Action == "webhook.disabled" && e.TargetId == subscription.ToString());
            Assert.Equal("failure", disabled.Outcome);
            Assert.Equal("system", disabled.ActorName);
            Assert.Null(disabled.ActorId);
            Assert.Equal("webhook", disabled.TargetType);
            using var details = JsonDocument.Parse(disabled.Details!);
            Assert.Equal(Receiver.Url(name), details.RootElement.GetProperty("url").GetString());
            Assert.Equal(503, details.RootElement.GetProperty("lastStatusCode").GetInt32());
            Assert.Equal(DateTime.SpecifyKind(stored.FailingSince!.Value, DateTimeKind.Utc), details.RootElement.GetProperty("failingSince").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
            Assert.DoesNotContain("not-for-logs", disabled.Details!, StringComparison.Ordinal);
        }

        // Disabled here at once: a matching event queues nothing more.
        await RecordAsync(App, $"{name}.after");
        Assert.Equal(3, (await DeliveriesAsync(App, subscription)).Count);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data", "link-local")]
    [InlineData("https://169.254.169.254/latest/meta-data", "link-local")]
    [InlineData("http://192.0.2.10/hook", "loopback or private")]
    public async Task A_receiver_address_no_subscription_may_reach_is_refused_at_connection_whatever_was_stored(string url, string reason)
    {
        // Stored straight to the database, past the subscription rules: as if the name had been checked when saved and
        // resolved elsewhere since. The connection itself refuses, so nothing is ever sent there.
        var name = Unique();
        var subscription = await CreateAsync(App, url, $"{name}.*", Receiver.Secret);
        try
        {
            await RecordAsync(App, $"{name}.one");
            var rows = await WaitForDeliveriesAsync(App, subscription, r => r.Count == 1 && r[0].Attempts == 1 && r[0].LastError is not null, Patience);
            Assert.Equal(WebhookDeliveryStatus.Pending, rows[0].Status);
            Assert.Null(rows[0].LastStatusCode);
            Assert.Contains(reason, rows[0].LastError, StringComparison.Ordinal);
        }
        finally
        {
            await DisableAsync(App, subscription);
        }
    }

    [Fact]
    public async Task A_rolled_back_change_queues_nothing_and_a_synchronous_save_queues_like_an_asynchronous_one()
    {
        var name = Unique();
        await Receiver.FollowClockAsync(App.Clock);
        var subscription = await CreateAsync(App, Receiver.Url(name), $"{name}.*", Receiver.Secret);

        await using (var scope = App.Scope(out var db))
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            scope.ServiceProvider.GetRequiredService<AuditLog>().Record(db, $"{name}.rolled_back", actor: Actor.System);
            await db.SaveChangesAsync();
            Assert.Single(await db.WebhookDeliveries.Where(d => d.SubscriptionId == subscription).ToListAsync());
            await transaction.RollbackAsync();
        }

        // Written afterwards: the queue is sent in order, so the rolled-back event would have come first.
        await using (var scope = App.Scope(out var db))
        {
            scope.ServiceProvider.GetRequiredService<AuditLog>().Record(db, $"{name}.sentinel", actor: Actor.System);
#pragma warning disable CA1849 // The synchronous SaveChanges is the path under test.
            db.SaveChanges();
#pragma warning restore CA1849
        }

        var received = await Receiver.WaitForAsync(name, r => r.Any(x => x.Type == $"{name}.sentinel" && x.Accepted), Patience);
        Assert.DoesNotContain(received, r => r.Type == $"{name}.rolled_back");
        var row = Assert.Single(await DeliveriesAsync(App, subscription));
        Assert.Equal($"{name}.sentinel", row.EventType);
    }

    /// <summary>
    /// Every request, failed attempts included, in arrival order never goes back to an earlier event; the accepted ones
    /// are exactly the events, once each, in audit order; and every one verified.
    /// </summary>
    private static void AssertInOrder(IReadOnlyList<ReceivedWebhook> received, IEnumerable<long> ids)
    {
        var sequence = received.Select(r => r.EventId).ToList();
        for (var i = 1; i < sequence.Count; i++)
        {
            Assert.True(sequence[i] >= sequence[i - 1], $"Event {sequence[i]} was sent after event {sequence[i - 1]}: {string.Join(", ", sequence)}");
        }

        Assert.Equal(ids.ToList(), received.Where(r => r.Accepted).Select(r => r.EventId).ToList());
        Assert.All(received, r => Assert.True(r.Verified, r.Error));
    }

    /// <summary>
    /// Moves the host's clock and the receiver's with it, in steps under the library's 5-minute tolerance so that no
    /// delivery made meanwhile looks stale; a jump of hours (where nothing is verified) moves at once.
    /// </summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        var step = by > TimeSpan.FromHours(1) ? by : TimeSpan.FromMinutes(2);
        for (var left = by; left > TimeSpan.Zero; left -= step)
        {
            App.Clock.Advance(left < step ? left : step);
            await Receiver.FollowClockAsync(App.Clock);
        }
    }

    /// <summary>A prefix of event types and a receiver path of this test's own (audit actions are lowercase, digits and underscores).</summary>
    private static string Unique() => "t" + Guid.NewGuid().ToString("N")[..12];
}

/// <summary>The signature and the retry schedule, as the Standard Webhooks specification states them.</summary>
public sealed class WebhookDeliverySignatureTests
{
    [Fact]
    public void The_signature_of_the_specifications_example_is_the_one_the_specification_gives()
    {
        // The example of the specification's reference libraries (the npm standardwebhooks package computes the same).
        var key = WebhookSecrets.Key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        Assert.NotNull(key);
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            WebhookSignature.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"u8));
    }

    [Fact]
    public void One_changed_byte_changes_the_signature()
    {
        var key = WebhookSecrets.Key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!;
        Assert.NotEqual(WebhookSignature.Sign(key, "msg_1", 1614265330, "{\"test\": 2432232314}"u8),
            WebhookSignature.Sign(key, "msg_1", 1614265330, "{\"test\": 2432232315}"u8));
        Assert.NotEqual(WebhookSignature.Sign(key, "msg_1", 1614265330, "{}"u8), WebhookSignature.Sign(key, "msg_2", 1614265330, "{}"u8));
        Assert.NotEqual(WebhookSignature.Sign(key, "msg_1", 1614265330, "{}"u8), WebhookSignature.Sign(key, "msg_1", 1614265331, "{}"u8));
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 5 * 60)]
    [InlineData(3, 30 * 60)]
    [InlineData(4, 2 * 3600)]
    [InlineData(5, 5 * 3600)]
    [InlineData(6, 10 * 3600)]
    [InlineData(7, 10 * 3600)]
    [InlineData(40, 10 * 3600)]
    public void Retries_back_off_on_the_standard_webhooks_schedule(int failedAttempts, int seconds)
        => Assert.Equal(TimeSpan.FromSeconds(seconds), WebhookDispatcher.RetryDelay(failedAttempts));
}
