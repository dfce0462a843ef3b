using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Webhooks;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The webhook pages in a real browser: a subscription added, its secret seen once, changed, its secret replaced, deleted.</summary>
public sealed class WebhookPagesTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_subscription_is_added_with_its_secret_shown_once_then_changed_disabled_given_a_new_secret_and_deleted()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var url = $"https://hooks.example.com/{suffix}";
        var page = await host.NewPageAsync(1280);
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/");
        await Expect(page.Locator("#side-menu a[href='/admin/webhooks']")).ToBeVisibleAsync();
        await page.GotoAsync("/admin/webhooks");

        // Plain http to a public host is refused beside the field, and nothing is added.
        await page.FillAsync("#url", $"http://hooks.example.com/{suffix}");
        await page.FillAsync("#event-types", "user.*, role.created");
        await page.ClickAsync("#create");
        await Expect(page.Locator("#url-error")).Not.ToBeEmptyAsync();
        await Expect(page.Locator("#error-summary")).ToBeVisibleAsync();
        await Expect(page.Locator("#new-secret")).ToHaveCountAsync(0);

        await page.FillAsync("#url", url);
        await page.FillAsync("#description", "CRM");
        await page.ClickAsync("#create");
        var secret = await page.Locator("#new-secret-value").InputValueAsync();
        Assert.NotNull(WebhookSecrets.Key(secret));
        var row = page.Locator("#webhooks tr", new() { HasText = url });
        await Expect(row).ToContainTextAsync("user.*, role.created");
        await Expect(row).ToContainTextAsync("enabled");

        // Shown once: the list and the subscription's page never show it again.
        await page.GotoAsync("/admin/webhooks");
        await Expect(page.Locator("#new-secret")).ToHaveCountAsync(0);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
        await page.Locator("#webhooks a", new() { HasText = url }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync(url);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);

        // Change: a bad event type is refused beside its field; a good change is saved.
        await page.FillAsync("#event-types", "user.*, not valid!");
        await page.ClickAsync("#save-webhook");
        await Expect(page.Locator("#eventTypes-error")).Not.ToBeEmptyAsync();
        await page.FillAsync("#event-types", "user.disabled, user.deleted");
        await page.FillAsync("#description", "CRM sync");
        await page.ClickAsync("#save-webhook");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was saved");
        await Expect(page.Locator("#event-types")).ToHaveValueAsync("user.disabled, user.deleted");
        await Expect(page.Locator("#description")).ToHaveValueAsync("CRM sync");

        await page.ClickAsync("#disable-webhook");
        await Expect(page.Locator("#status-value")).ToHaveAttributeAsync("data-enabled", "false");
        await Expect(page.Locator("#enable-webhook")).ToBeVisibleAsync();

        await page.ClickAsync("#replace-secret");
        var replaced = await page.Locator("#new-secret-value").InputValueAsync();
        Assert.NotNull(WebhookSecrets.Key(replaced));
        Assert.NotEqual(secret, replaced);
        await page.ReloadAsync();
        await Expect(page.Locator("#new-secret")).ToHaveCountAsync(0);

        // Delete asks for the confirmation first.
        await page.ClickAsync("#delete-webhook");
        await Expect(page.Locator("#delete-webhook-form .field-error")).Not.ToBeEmptyAsync();
        await page.CheckAsync("#confirm-delete");
        await page.ClickAsync("#delete-webhook");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was deleted");
        await Expect(page.Locator("#webhooks tr", new() { HasText = url })).ToHaveCountAsync(0);

        await using var scope = App.Scope(out var db);
        Assert.False(await db.WebhookSubscriptions.AnyAsync(s => s.Url == url));
    }

    [Fact]
    public async Task The_subscription_page_shows_its_recent_deliveries()
    {
        var page = await host.NewPageAsync(1280);
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/admin/webhooks");
        var url = $"https://hooks.example.com/{Guid.NewGuid():N}";
        await page.FillAsync("#url", url);
        // A filter no action of this test matches: the page shows exactly the two rows written below.
        await page.FillAsync("#event-types", "test.unmatched");
        await page.ClickAsync("#create");
        await page.ClickAsync("#open-created");
        var id = Guid.Parse(page.Url.Split('/')[^1]);
        var delivered = await DeliveryAsync(App, id, WebhookDeliveryStatus.Delivered);
        var pending = await DeliveryAsync(App, id, WebhookDeliveryStatus.Pending);

        await page.ReloadAsync();
        await Expect(page.Locator("#deliveries tbody tr")).ToHaveCountAsync(2);
        await Expect(page.Locator("#deliveries tbody tr").First).ToHaveAttributeAsync("data-delivery", pending.ToString());
        await Expect(page.Locator($"#deliveries tr[data-delivery='{delivered}']")).ToContainTextAsync("delivered");
        await Expect(page.Locator($"#deliveries tr[data-delivery='{pending}']")).ToContainTextAsync("connection refused");
    }

    /// <summary>A delivery of a fresh audit event, as the delivery engine would have written it.</summary>
    public static async Task<Guid> DeliveryAsync(TesseraApp app, Guid subscription, string status)
    {
        await using var scope = app.Scope(out var db);
        var now = app.Clock.GetUtcNow().UtcDateTime;
        var audit = new AuditEvent { Action = "user.disabled", At = now, ActorName = "system", TargetType = "user" };
        db.AuditEvents.Add(audit);
        await db.SaveChangesAsync();
        var delivered = status == WebhookDeliveryStatus.Delivered;
        var delivery = new WebhookDelivery
        {
            SubscriptionId = subscription, AuditEventId = audit.Id, EventType = audit.Action, Status = status, CreatedAt = now, NextAttemptAt = now.AddMinutes(1),
            Attempts = 1, LastAttemptAt = now, DeliveredAt = delivered ? now : null, LastStatusCode = delivered ? 204 : null, LastError = delivered ? null : "connection refused",
        };
        db.WebhookDeliveries.Add(delivery);
        await db.SaveChangesAsync();
        return delivery.Id;
    }
}
