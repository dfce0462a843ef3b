using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OtpNet;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// Two-step sign-in in Chromium under the product's MFA policy: an administrator enrols an authenticator app from the
/// page (the code computed from the key it shows, as an app would), notes the recovery codes, and signs in again
/// through the second step.
/// </summary>
public sealed class MfaTests(MfaBrowserHost host) : IClassFixture<MfaBrowserHost>
{
    private const string Password = "Granite-Orchard-Beacon-64";

    private TesseraApp App => host.App;

    [Fact]
    public async Task An_administrator_enrols_an_authenticator_app_then_signs_in_with_the_second_step()
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        var page = await host.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.FillAsync("#login", admin.Username);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("button[type=submit].primary");

        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/profile/mfa$"));
        await Expect(page.Locator("#totp-qr")).ToBeVisibleAsync();
        Assert.True(await page.Locator("#totp-qr").EvaluateAsync<bool>("img => img.complete && img.naturalWidth > 100"), "the QR code image did not render");
        await Screenshot(page, "mfa-enrolment-totp");
        var key = Base32Encoding.ToBytes((await page.Locator("#totp-key").InnerTextAsync()).Replace(" ", "", StringComparison.Ordinal));
        await page.FillAsync("#code", Code(key));
        await page.ClickAsync("#totp-confirm");
        await Expect(page.Locator("#recovery-code-list li")).ToHaveCountAsync(10);
        await page.ClickAsync("#continue");
        await Expect(page.Locator("#profile-link")).ToBeVisibleAsync();
        await page.Context.CloseAsync();

        // Later: the password, then the second step. The code of the enrolment's step was used, so the clock moves on.
        App.Clock.Advance(TimeSpan.FromSeconds(60));
        var later = await host.NewPageAsync();
        await later.GotoAsync("/signin");
        await later.FillAsync("#login", admin.Username);
        await later.FillAsync("#password", Password);
        await later.ClickAsync("button[type=submit].primary");
        await Assertions.Expect(later).ToHaveURLAsync(new Regex("/signin/mfa$"));
        await later.FillAsync("#code", "000000" == Code(key) ? "111111" : "000000");
        await later.ClickAsync("#mfa-submit");
        await Expect(later.Locator("#mfa-error")).ToBeVisibleAsync();
        await Screenshot(later, "mfa-second-step");
        await later.FillAsync("#code", Code(key));
        await later.ClickAsync("#mfa-submit");
        await Expect(later.Locator("#profile-link")).ToBeVisibleAsync();
        await later.GotoAsync("/profile/mfa");
        await Expect(later.Locator("#mfa-methods li[data-type=totp]")).ToBeVisibleAsync();
        await Expect(later.Locator("#mfa-methods li[data-type=recovery_codes]")).ToContainTextAsync("10 left");
        await later.Context.CloseAsync();
    }

    private string Code(byte[] key) => new Totp(key).ComputeTotp(App.Clock.GetUtcNow().UtcDateTime);
}
