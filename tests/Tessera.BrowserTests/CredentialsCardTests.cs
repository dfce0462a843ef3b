using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The Credentials card of an API user: a secret generated and shown once, copied; a public key pasted; a credential deleted.</summary>
public sealed class CredentialsCardTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task An_administrator_adds_a_secret_copies_it_once_adds_a_public_key_and_deletes_the_secret()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, CredentialMode.Password, $"{Seed.Unique("erp")}@example.test", BuiltInRoles.System);
        var page = await host.NewPageAsync();
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new() { Origin = App.BaseUrl });
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);

        await page.GotoAsync($"/admin/users/{api.Id}");
        var card = page.Locator("#credentials-card");
        await Expect(card.Locator("#no-credentials")).ToBeVisibleAsync();
        await Expect(page.Locator("#resend-invitation")).ToHaveCountAsync(0);
        await Expect(page.Locator("#password-form")).ToHaveCountAsync(0);
        await Expect(page.Locator("#credential-pem")).ToBeHiddenAsync();

        // A secret that expires in ten days: shown once, with the warning, and copied.
        var expires = App.Clock.GetUtcNow().UtcDateTime.Date.AddDays(10);
        await page.FillAsync("#credential-name", "erp-2027");
        await page.FillAsync("#credential-expires", expires.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await page.ClickAsync("#add-credential");
        var shown = page.Locator("#new-secret-value");
        await Expect(shown).ToBeVisibleAsync();
        await Expect(shown).ToBeFocusedAsync();
        var secret = await shown.InputValueAsync();
        Assert.Matches("^tsr_[A-Za-z0-9_-]{43}$", secret);
        await Expect(page.Locator("#new-secret-warning")).ToContainTextAsync("will not be shown again");
        var row = card.Locator("tr[data-name='erp-2027']");
        await Expect(row).ToHaveClassAsync("expiring-soon");
        await Expect(row.Locator(".expiry")).ToContainTextAsync("Expires in");
        await Expect(row.Locator(".last-used")).ToHaveTextAsync("never");

        await page.ClickAsync("#copy-secret");
        await Expect(page.Locator("#copy-status")).ToContainTextAsync("Copied");
        Assert.Equal(secret, await page.EvaluateAsync<string>("navigator.clipboard.readText()"));
        await Screenshot(page, "api-credentials");

        // A reload shows the list, never the secret again (and sends no form again).
        await page.ReloadAsync();
        await Expect(page.Locator("#new-secret-value")).ToHaveCountAsync(0);
        await Expect(card.Locator("tr[data-credential]")).ToHaveCountAsync(1);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);

        // A public key, pasted as PEM.
        using var rsa = RSA.Create(2048);
        await page.CheckAsync("#credential-type-key");
        await Expect(page.Locator("#credential-pem")).ToBeVisibleAsync();
        await page.FillAsync("#credential-name", "erp-key");
        await page.FillAsync("#credential-pem", rsa.ExportSubjectPublicKeyInfoPem());
        await page.ClickAsync("#add-credential");
        await Expect(page.Locator("#new-key")).ToContainTextAsync("RSA 2048");
        await Expect(card.Locator("tr[data-name='erp-key'] .credential-type")).ToContainTextAsync("Public key, RSA 2048");
        await Expect(card.Locator("tr[data-credential]")).ToHaveCountAsync(2);

        // Deleting asks first.
        var doomed = card.Locator("tr[data-name='erp-2027']");
        await Expect(doomed.Locator("button.delete-credential")).ToBeHiddenAsync();
        await doomed.Locator("details.confirm summary").ClickAsync();
        await doomed.Locator("button.delete-credential").ClickAsync();
        await Expect(page.Locator("#notice")).ToContainTextAsync("erp-2027 was deleted");
        await Expect(card.Locator("tr[data-credential]")).ToHaveCountAsync(1);
        await Expect(card.Locator("tr[data-name='erp-key']")).ToBeVisibleAsync();

        await using var scope = App.Scope(out var db);
        Assert.Equal(["erp-key"], await db.ApiCredentials.Where(c => c.UserId == api.Id).Select(c => c.Name).ToListAsync());
    }

    [Fact]
    public async Task The_card_fits_a_phone_and_a_refused_key_takes_the_focus()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, CredentialMode.Password, $"{Seed.Unique("shop")}@example.test", BuiltInRoles.System);
        var page = await host.NewPageAsync(width: 390, height: 844);
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync($"/admin/users/{api.Id}");

        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await page.CheckAsync("#credential-type-key");
        await page.FillAsync("#credential-name", "leaked");
        await page.FillAsync("#credential-pem", ec.ExportPkcs8PrivateKeyPem());
        await page.ClickAsync("#add-credential");
        await Expect(page.Locator("#pem-error")).ToContainTextAsync("private key");
        await Expect(page.Locator("#credential-pem")).ToBeFocusedAsync();

        // Nothing on the page is wider than the phone (a wide table scrolls inside its own box).
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"),
            $"page is {await page.EvaluateAsync<int>("document.documentElement.scrollWidth")} px wide at 390 px");
    }
}
