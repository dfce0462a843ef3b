using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The browser host at http://localhost:port, where Chromium allows WebAuthn (a secure context, no IP address).</summary>
public sealed class LocalhostBrowserHost : BrowserHost
{
    protected override bool LocalhostName => true;
}

/// <summary>Passkeys in Chromium with a CDP virtual authenticator (ctap2, internal, resident keys, user verification).</summary>
public sealed class PasskeyTests(LocalhostBrowserHost host) : IClassFixture<LocalhostBrowserHost>
{
    private const string Password = "Passkey-Browser-Password-1";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_user_adds_a_passkey_on_the_profile_signs_out_and_signs_in_with_the_passkey_alone()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var page = await host.NewPageAsync();
        var cdp = await page.Context.NewCDPSessionAsync(page);
        await cdp.SendAsync("WebAuthn.enable");
        await cdp.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2",
                ["transport"] = "internal",
                ["hasResidentKey"] = true,
                ["hasUserVerification"] = true,
                ["isUserVerified"] = true,
            },
        });

        await SignInAsync(page, user.Username, Password);
        await page.GotoAsync("/profile/mfa");
        await Expect(page.Locator("#passkeys-none")).ToBeVisibleAsync();
        await page.FillAsync("#passkey-name", "Virtual laptop key");
        await page.ClickAsync("#passkey-add");
        await Expect(page.Locator("#passkeys-list")).ToContainTextAsync("Virtual laptop key");
        await Expect(page.Locator("#passkeys-card [role=alert]")).ToBeHiddenAsync();
        await Screenshot(page, "passkeys");

        await page.ClickAsync("form[action='/signout'] button");
        await page.WaitForURLAsync("**/signin**");
        await Expect(page.Locator("#profile-link")).ToHaveCountAsync(0);

        await page.ClickAsync("#passkey-signin");
        await Expect(page.Locator("#profile-link")).ToBeVisibleAsync();
        await page.GotoAsync("/profile");
        await Expect(page.Locator("#profile-username")).ToHaveTextAsync(user.Username);
        await page.GotoAsync("/profile/mfa");
        await Expect(page.Locator("#passkeys-list")).Not.ToContainTextAsync("never");

        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.passkey" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
    }
}
