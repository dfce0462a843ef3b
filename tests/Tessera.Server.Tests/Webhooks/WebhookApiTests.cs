using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Webhooks;

namespace Tessera.Server.Tests.Webhooks;

public sealed class SqliteWebhookApiTests(SqliteHost host) : WebhookApiTests<SqliteHost>(host);

public sealed class PostgresWebhookApiTests(PostgresHost host) : WebhookApiTests<PostgresHost>(host);

/// <summary>
/// The webhook subscriptions API with the default settings: the round trip, the secret shown once, every refusal
/// with its key and nothing stored, the privilege, the audit trail without secrets, what disabling does to pending
/// deliveries, and the delivery log's pages (its rows written directly: the delivery engine writes them in production).
/// </summary>
public abstract class WebhookApiTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_subscription_goes_through_create_list_get_replace_and_delete_and_its_secret_is_shown_once()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var created = await admin.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/tessera", description = "CRM", eventTypes = new[] { "user.*", "User.Disabled", "user.*" } });
        var body = await Expect.ResponseAsync(created, HttpStatusCode.Created);
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/webhooks/{id}", created.Headers.Location?.OriginalString);
        var secret = body.GetProperty("secret").GetString();
        Assert.NotNull(WebhookSecrets.Key(secret));
        Assert.Equal(["user.*", "user.disabled"], body.GetProperty("eventTypes").EnumerateArray().Select(e => e.GetString()));
        Assert.True(body.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("disabledReason").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("failingSince").ValueKind);
        Assert.Equal(secret, await StoredSecretAsync(id));

        var read = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.OK);
        Assert.False(read.TryGetProperty("secret", out _), read.ToString());
        Assert.Equal(("https://hooks.example.com/tessera", "CRM"), (read.GetProperty("url").GetString(), read.GetProperty("description").GetString()));
        var listed = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/webhooks?limit=200"), HttpStatusCode.OK);
        var item = Assert.Single(listed.GetProperty("items").EnumerateArray(), i => i.GetProperty("id").GetGuid() == id);
        Assert.False(item.TryGetProperty("secret", out _), item.ToString());
        Assert.DoesNotContain("whsec_", listed.ToString(), StringComparison.Ordinal);

        // Left out, the secret is kept and not shown.
        var replaced = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/v2", eventTypes = new[] { "*" }, enabled = true }), HttpStatusCode.OK);
        Assert.False(replaced.TryGetProperty("secret", out _), replaced.ToString());
        Assert.Equal(("https://hooks.example.com/v2", "", "*"), (replaced.GetProperty("url").GetString(), replaced.GetProperty("description").GetString(), replaced.GetProperty("eventTypes")[0].GetString()));
        Assert.Equal(secret, await StoredSecretAsync(id));

        // Given, it replaces the old one and is shown in that answer.
        var newSecret = WebhookSecrets.Generate();
        var rotated = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/v2", eventTypes = new[] { "*" }, enabled = true, secret = newSecret }), HttpStatusCode.OK);
        Assert.Equal(newSecret, rotated.GetProperty("secret").GetString());
        Assert.Equal(newSecret, await StoredSecretAsync(id));
        Assert.False((await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.OK)).TryGetProperty("secret", out _));

        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.NoContent);
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/v2", eventTypes = new[] { "*" }, enabled = true }), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.DeleteAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_secret_given_on_create_is_kept_and_stored_protected()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var secret = "whsec_" + Convert.ToBase64String(Enumerable.Range(0, 24).Select(i => (byte)(i * 7)).ToArray());
        var body = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/given", eventTypes = new[] { "user.created" }, secret, enabled = false }), HttpStatusCode.Created);
        Assert.Equal(secret, body.GetProperty("secret").GetString());
        Assert.False(body.GetProperty("enabled").GetBoolean());

        await using var scope = App.Scope(out var db);
        var stored = await db.WebhookSubscriptions.AsNoTracking().SingleAsync(s => s.Id == body.GetProperty("id").GetGuid());
        Assert.DoesNotContain(secret[6..], stored.Secret, StringComparison.Ordinal);
        Assert.Equal(secret, await StoredSecretAsync(stored.Id));
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { """{"eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"/relative","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"ftp://hooks.example.com/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"https://user:pass@hooks.example.com/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { $$"""{"url":"https://hooks.example.com/{{new string('a', 2000)}}","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"http://127.0.0.1:9000/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"http://hooks.example.com/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"https://169.254.169.254/latest/meta-data","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"https://[fe80::1]/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"https://[::ffff:169.254.169.254]/x","eventTypes":["user.*"]}""", "validation_failed", "url" },
        { """{"url":"https://hooks.example.com/x"}""", "validation_failed", "eventTypes" },
        { """{"url":"https://hooks.example.com/x","eventTypes":[]}""", "validation_failed", "eventTypes" },
        { """{"url":"https://hooks.example.com/x","eventTypes":["user.*","user.disabled","no way!"]}""", "validation_failed", "eventTypes[2]" },
        { """{"url":"https://hooks.example.com/x","eventTypes":["user.*"],"secret":"whsec_c2hvcnQ="}""", "validation_failed", "secret" },
        { """{"url":"https://hooks.example.com/x","eventTypes":["user.*"],"secret":"not-a-secret"}""", "validation_failed", "secret" },
        { """{"url":"https://hooks.example.com/x","eventTypes":["user.*"],"colour":"blue"}""", "unknown_field", "colour" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_bad_subscription_is_refused_by_the_member_at_fault_and_nothing_is_stored(string json, string code, string key)
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (subscriptions, audits) = await CountsAsync();

        var problem = await Expect.ProblemAsync(await admin.PostAsync("/api/v1/webhooks", new StringContent(json, System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, code);
        Assert.True(problem.GetProperty("errors").TryGetProperty(key, out _), problem.ToString());

        // The same body as a replacement of an existing subscription changes nothing either.
        var existing = await CreateAsync(admin, "https://hooks.example.com/kept");
        (subscriptions, audits) = await CountsAsync();
        var replacement = json.Contains("\"enabled\"", StringComparison.Ordinal) ? json : json.Insert(1, "\"enabled\":false,");
        var refused = await Expect.ProblemAsync(await admin.PutAsync($"/api/v1/webhooks/{existing}", new StringContent(replacement, System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, code);
        Assert.True(refused.GetProperty("errors").TryGetProperty(key, out _), refused.ToString());
        Assert.Equal((subscriptions, audits), await CountsAsync());
        var kept = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{existing}"), HttpStatusCode.OK);
        Assert.Equal(("https://hooks.example.com/kept", true), (kept.GetProperty("url").GetString(), kept.GetProperty("enabled").GetBoolean()));
    }

    [Fact]
    public async Task A_replacement_must_say_whether_the_subscription_is_enabled()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var id = await CreateAsync(admin, "https://hooks.example.com/enabled");
        var problem = await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/enabled", eventTypes = new[] { "*" } }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("enabled", out _), problem.ToString());
    }

    [Fact]
    public async Task Only_holders_of_manage_webhooks_may_read_or_change_subscriptions()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var id = await CreateAsync(admin, "https://hooks.example.com/guarded");
        using var others = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers, Privileges.ViewAuditLog]);
        var body = new { url = "https://hooks.example.com/x", eventTypes = new[] { "*" }, enabled = true };
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.GetAsync("/api/v1/webhooks")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.PostAsJsonAsync("/api/v1/webhooks", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.GetAsync($"/api/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.PutAsJsonAsync($"/api/v1/webhooks/{id}", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.DeleteAsync($"/api/v1/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await others.Client.GetAsync($"/api/v1/webhooks/{id}/deliveries")).StatusCode);
        await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.OK);

        using var holder = await DelegationArrange.ActorAsync(App, admin, [Privileges.ManageWebhooks]);
        await Expect.ResponseAsync(await holder.Client.GetAsync($"/api/v1/webhooks/{id}/deliveries"), HttpStatusCode.OK);
        await Expect.ResponseAsync(await holder.Client.PutAsJsonAsync($"/api/v1/webhooks/{id}", body), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Each_change_is_audited_with_url_event_types_enabled_and_whether_the_secret_changed_never_the_secret()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/webhooks", new { url = "https://hooks.example.com/audited", eventTypes = new[] { "role.*" } }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        var first = created.GetProperty("secret").GetString()!;
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/audited", eventTypes = new[] { "role.*" }, enabled = false }), HttpStatusCode.OK);
        var second = WebhookSecrets.Generate();
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", new { url = "https://hooks.example.com/audited", eventTypes = new[] { "role.*" }, enabled = true, secret = second }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/webhooks/{id}"), HttpStatusCode.NoContent);

        await using var scope = App.Scope(out var db);
        var events = await db.AuditEvents.AsNoTracking().Where(e => e.TargetType == "webhook" && e.TargetId == id.ToString()).OrderBy(e => e.Id).ToListAsync();
        Assert.Equal(["webhook.created", "webhook.updated", "webhook.updated", "webhook.deleted"], events.Select(e => e.Action));
        Assert.All(events, e =>
        {
            Assert.DoesNotContain(first[6..], e.Details!, StringComparison.Ordinal);
            Assert.DoesNotContain(second[6..], e.Details!, StringComparison.Ordinal);
            Assert.DoesNotContain("whsec_", e.Details!, StringComparison.Ordinal);
            var details = JsonDocument.Parse(e.Details!).RootElement;
            Assert.Equal("https://hooks.example.com/audited", details.GetProperty("url").GetString());
            Assert.Equal("role.*", details.GetProperty("eventTypes")[0].GetString());
        });
        Assert.Equal([true, false, true], events.Take(3).Select(e => JsonDocument.Parse(e.Details!).RootElement.GetProperty("secretChanged").GetBoolean()));
        Assert.Equal([true, false, true, true], events.Select(e => JsonDocument.Parse(e.Details!).RootElement.GetProperty("enabled").GetBoolean()));
    }

    [Fact]
    public async Task Disabling_abandons_the_pending_deliveries_and_enabling_clears_what_the_engine_recorded()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var id = await CreateAsync(admin, "https://hooks.example.com/disable");
        var other = await CreateAsync(admin, "https://hooks.example.com/untouched");
        var pending = await DeliveriesAsync(id, WebhookDeliveryStatus.Pending, WebhookDeliveryStatus.Pending, WebhookDeliveryStatus.Delivered);
        var elsewhere = await DeliveriesAsync(other, WebhookDeliveryStatus.Pending);
        await using (var scope = App.Scope(out var db))
        {
            var subscription = await db.WebhookSubscriptions.SingleAsync(s => s.Id == id);
            subscription.FailingSince = DateTime.UtcNow.AddHours(-25);
            subscription.DisabledReason = "Every delivery failed for 24 hours.";
            await db.SaveChangesAsync();
        }

        var body = new { url = "https://hooks.example.com/disable", eventTypes = new[] { "*" }, enabled = false };
        var disabled = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", body), HttpStatusCode.OK);
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.Equal([WebhookDeliveryStatus.Abandoned, WebhookDeliveryStatus.Abandoned, WebhookDeliveryStatus.Delivered], await StatusesAsync(pending));
        Assert.Equal([WebhookDeliveryStatus.Pending], await StatusesAsync(elsewhere));

        var enabled = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/webhooks/{id}", body with { enabled = true }), HttpStatusCode.OK);
        Assert.True(enabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("disabledReason").ValueKind);
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("failingSince").ValueKind);
        Assert.Equal([WebhookDeliveryStatus.Abandoned, WebhookDeliveryStatus.Abandoned, WebhookDeliveryStatus.Delivered], await StatusesAsync(pending));
    }

    [Fact]
    public async Task The_delivery_log_pages_newest_first_without_gaps_or_repeats_and_filters_by_status()
    {
        using var admin = await Seed.AdminApiAsync(App);
        // A filter no action of this test matches: the log holds exactly the rows written below, none fanned out.
        var id = await CreateAsync(admin, "https://hooks.example.com/log", "test.unmatched");
        var statuses = new[] { "delivered", "pending", "delivered", "abandoned", "delivered" };
        var ids = await DeliveriesAsync(id, statuses);

        var seen = new List<JsonElement>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries?limit=2{(cursor is null ? "" : $"&cursor={cursor}")}"), HttpStatusCode.OK);
            seen.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(ids.AsEnumerable().Reverse(), seen.Select(d => d.GetProperty("id").GetGuid()));
        var newest = seen[0];
        Assert.Equal(("delivered", 2, "user.disabled", 200), (newest.GetProperty("status").GetString(), newest.GetProperty("attempts").GetInt32(),
            newest.GetProperty("eventType").GetString(), newest.GetProperty("lastStatusCode").GetInt32()));
        Assert.NotEqual(JsonValueKind.Null, newest.GetProperty("deliveredAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, newest.GetProperty("nextAttemptAt").ValueKind);
        var waiting = Assert.Single(seen, d => d.GetProperty("status").GetString() == "pending");
        Assert.NotEqual(JsonValueKind.Null, waiting.GetProperty("nextAttemptAt").ValueKind);
        Assert.Equal("connection refused", waiting.GetProperty("lastError").GetString());
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.GetProperty("auditEventId").GetInt64() > p.Second.GetProperty("auditEventId").GetInt64()));

        var delivered = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries?status=delivered"), HttpStatusCode.OK);
        Assert.Equal([ids[4], ids[2], ids[0]], delivered.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()));
        Assert.Equal(JsonValueKind.Null, delivered.GetProperty("nextCursor").ValueKind);

        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries?status=lost"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries?limit=0"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{id}/deliveries?cursor=not-a-cursor"), HttpStatusCode.BadRequest, "invalid_cursor");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/webhooks/{Guid.NewGuid()}/deliveries"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task The_list_pages_newest_first_without_gaps_or_repeats()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var mine = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            mine.Add(await CreateAsync(admin, $"https://hooks.example.com/list/{i}"));
            App.Clock.Advance(TimeSpan.FromMilliseconds(5));
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/webhooks?limit=2{(cursor is null ? "" : $"&cursor={cursor}")}"), HttpStatusCode.OK);
            Assert.True(page.GetProperty("items").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.Equal(mine.AsEnumerable().Reverse(), seen.Where(mine.Contains));
        await Expect.ProblemAsync(await admin.GetAsync("/api/v1/webhooks?cursor=garbled"), HttpStatusCode.BadRequest, "invalid_cursor");
        await Expect.ProblemAsync(await admin.GetAsync("/api/v1/webhooks?limit=201"), HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task The_pages_and_their_menu_entry_need_manage_webhooks_and_their_forms_the_antiforgery_token()
    {
        const string password = "Back-Office-Password-1";
        using var admin = await Seed.AdminApiAsync(App);
        var (_, managers) = await DelegationArrange.RoleAsync(admin, "hooks", Privileges.ManageWebhooks, Privileges.ViewUsers);
        var (_, viewers) = await DelegationArrange.RoleAsync(admin, "viewers", Privileges.ViewUsers);
        var manager = await Seed.UserAsync(App, Tessera.Core.Users.UserType.BackOffice, password, managers);
        var viewer = await Seed.UserAsync(App, Tessera.Core.Users.UserType.BackOffice, password, viewers);

        using var refused = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(refused, viewer.Username, password)).StatusCode);
        Assert.DoesNotContain("href=\"/admin/webhooks\"", await refused.GetStringAsync("/"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await refused.GetAsync("/admin/webhooks")).StatusCode);

        using var client = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(client, manager.Username, password)).StatusCode);
        Assert.Contains("href=\"/admin/webhooks\"", await client.GetStringAsync("/"), StringComparison.Ordinal);
        var page = await client.GetStringAsync("/admin/webhooks");
        var url = $"https://hooks.example.com/{Guid.NewGuid():N}";
        var form = new Dictionary<string, string> { ["ReceiverUrl"] = url, ["Description"] = "page", ["EventTypes"] = "user.*, role.created" };

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/admin/webhooks?handler=Create", new FormUrlEncodedContent(form))).StatusCode);
        await using (var scope = App.Scope(out var db))
        {
            Assert.False(await db.WebhookSubscriptions.AnyAsync(s => s.Url == url));
        }

        form["__RequestVerificationToken"] = Seed.AntiforgeryToken(page);
        var created = await client.PostAsync("/admin/webhooks?handler=Create", new FormUrlEncodedContent(form));
        var html = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.OK, html);
        var secret = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "id=\"new-secret-value\"[^>]*value=\"(whsec_[^\"]+)\"").Groups[1].Value);
        Assert.NotNull(WebhookSecrets.Key(secret));
        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.WebhookSubscriptions.AsNoTracking().SingleAsync(s => s.Url == url);
            Assert.Equal("user.*,role.created", stored.EventTypes);
            Assert.Equal(secret, await StoredSecretAsync(stored.Id));
            Assert.DoesNotContain(secret, await client.GetStringAsync($"/admin/webhooks/{stored.Id}"), StringComparison.Ordinal);
        }
    }

    private static async Task<Guid> CreateAsync(HttpClient admin, string url, string eventTypes = "*")
        => (await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/webhooks", new { url, eventTypes = new[] { eventTypes } }), HttpStatusCode.Created)).GetProperty("id").GetGuid();

    private async Task<string> StoredSecretAsync(Guid id)
    {
        await using var scope = App.Scope(out var db);
        var stored = await db.WebhookSubscriptions.AsNoTracking().Where(s => s.Id == id).Select(s => s.Secret).SingleAsync();
        Assert.DoesNotContain("whsec_", stored, StringComparison.Ordinal);
        return scope.ServiceProvider.GetRequiredService<WebhookSecrets>().Unprotect(stored);
    }

    private async Task<(int Subscriptions, int Audits)> CountsAsync()
    {
        await using var scope = App.Scope(out var db);
        return (await db.WebhookSubscriptions.CountAsync(), await db.AuditEvents.CountAsync(e => e.Action.StartsWith("webhook.")));
    }

    /// <summary>Deliveries of one audit event each, oldest first, as the delivery engine would have written them.</summary>
    private async Task<List<Guid>> DeliveriesAsync(Guid subscription, params string[] statuses)
    {
        await using var scope = App.Scope(out var db);
        var now = App.Clock.GetUtcNow().UtcDateTime;
        var ids = new List<Guid>();
        foreach (var status in statuses)
        {
            var audit = new AuditEvent { Action = "user.disabled", At = now, ActorName = "system", TargetType = "user" };
            db.AuditEvents.Add(audit);
            await db.SaveChangesAsync();
            var delivery = new WebhookDelivery
            {
                SubscriptionId = subscription, AuditEventId = audit.Id, EventType = audit.Action, Status = status, CreatedAt = now, NextAttemptAt = now.AddMinutes(1),
                Attempts = status == WebhookDeliveryStatus.Delivered ? 2 : 1, LastAttemptAt = now,
                DeliveredAt = status == WebhookDeliveryStatus.Delivered ? now : null,
                LastStatusCode = status == WebhookDeliveryStatus.Delivered ? 200 : null,
                LastError = status == WebhookDeliveryStatus.Delivered ? null : "connection refused",
            };
            db.WebhookDeliveries.Add(delivery);
            await db.SaveChangesAsync();
            ids.Add(delivery.Id);
        }

        return ids;
    }

    private async Task<List<string>> StatusesAsync(List<Guid> ids)
    {
        await using var scope = App.Scope(out var db);
        var rows = await db.WebhookDeliveries.AsNoTracking().Where(d => ids.Contains(d.Id)).ToListAsync();
        return [.. ids.Select(i => rows.Single(r => r.Id == i).Status)];
    }
}
