using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Playwright;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.BrowserTests;

/// <summary>
/// The operator's first start, as it really happens: the built service in its own process prints a
/// one-time link; the administrator opens it in a browser, sets a password, signs in, and (as the default MFA
/// policy requires of administrators) enrols an authenticator app before reaching the Back Office.
/// </summary>
public sealed partial class FirstStartTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tessera-first-start-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task The_admin_sets_a_password_from_the_printed_link_and_signs_in()
    {
        var port = TesseraApp.FreePort();
        var url = $"http://127.0.0.1:{port}";
        await using var server = ServerProcess.Start(_folder.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = url,
            ["Tessera__PublicUrl"] = url,
            ["Tessera__Mail__OutboxPath"] = Path.Combine(_folder.FullName, "outbox"),
        });
        await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
        var link = await server.WaitForOutputAsync(PrintedLink(), TimeSpan.FromSeconds(60));
        Assert.StartsWith(url + "/set-password?token=", link.Value, StringComparison.Ordinal);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = BrowserHost.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await (await browser.NewContextAsync(new() { BaseURL = url })).NewPageAsync();
        page.SetDefaultTimeout(15_000);

        await page.GotoAsync(link.Value);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Set your password");
        const string password = "Harbour-Lantern-Violet-42";
        await page.FillAsync("#newPassword", password);
        await page.FillAsync("#confirmPassword", password);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("[role=status]")).ToContainTextAsync("Your password is set");

        await page.GotoAsync(link.Value);
        await Assertions.Expect(page.Locator("#link-invalid")).ToBeVisibleAsync();

        await page.GotoAsync("/signin");
        await page.FillAsync("#login", "admin");
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit].primary");

        // The default policy requires a second factor of administrators: the first sign-in ends at the enrolment.
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/profile/mfa$"));
        await Assertions.Expect(page.Locator("#enrol-required")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#totp-qr")).ToBeVisibleAsync();
        Assert.StartsWith("otpauth://totp/Tessera:admin?secret=", await page.Locator("#totp-uri").GetAttributeAsync("href"), StringComparison.Ordinal);
        await BrowserSteps.Screenshot(page, "mfa-enrolment");
        await page.GotoAsync("/admin/users");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/profile/mfa$"));

        // As an authenticator app would: the code from the key shown on the page.
        var key = (await page.Locator("#totp-key").InnerTextAsync()).Replace(" ", "", StringComparison.Ordinal);
        await page.FillAsync("#code", new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(key)).ComputeTotp());
        await page.ClickAsync("#totp-confirm");
        await Assertions.Expect(page.Locator("#recovery-code-list li")).ToHaveCountAsync(10);
        await page.ClickAsync("#continue");
        await Assertions.Expect(page.Locator("#profile-link")).ToBeVisibleAsync();
        await page.GotoAsync("/admin/users");
        await Assertions.Expect(page.Locator("table")).ToContainTextAsync("modular.system");

        server.Terminate();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    [GeneratedRegex(@"https?://[^\s]+/set-password\?token=[A-Za-z0-9_\-]+")]
    private static partial Regex PrintedLink();
}
