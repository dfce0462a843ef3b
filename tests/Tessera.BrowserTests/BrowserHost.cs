using System.Globalization;
using Microsoft.Playwright;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.BrowserTests;

/// <summary>
/// A real Tessera host on a loopback port (SQLite), an SMTP sink catching its mail, and Debian's
/// Chromium driven by Playwright; one per test class.
/// </summary>
public class BrowserHost : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The storefront to which the Agent assist page links (never opened by the tests).</summary>
    public const string StorefrontUrl = "https://shop.example.test/assist";

    private IPlaywright? _playwright;

    public TesseraApp App { get; private set; } = null!;

    public SmtpSinkProcess Mail { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Keep the product's MFA policy (see <see cref="TesseraApp.ProductMfaPolicy"/>).</summary>
    protected virtual bool ProductMfaPolicy => false;
    /// <summary>Serve and browse at localhost rather than 127.0.0.1 (see <see cref="TesseraApp.LocalhostName"/>).</summary>
    protected virtual bool LocalhostName => false;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (test.sh does).");
        }

        Mail = await SmtpSinkProcess.StartAsync();
        App = new TesseraApp(TestDatabase.Create("sqlite"), new Dictionary<string, string?>
        {
            ["Tessera:Mail:Smtp:Host"] = Mail.SmtpHost,
            ["Tessera:Mail:Smtp:Port"] = Mail.SmtpPort.ToString(CultureInfo.InvariantCulture),
            ["Tessera:Mail:Smtp:Security"] = "None",
            ["Tessera:Mail:PollSeconds"] = "1",
            ["Tessera:AgentAssist:StorefrontUrl"] = StorefrontUrl,
        }, kestrel: true) { ProductMfaPolicy = ProductMfaPolicy, LocalhostName = LocalhostName }.Started();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"], // Playwright gives every launch a fresh profile of its own
        });
    }

    /// <summary>A fresh browser context (its own cookies) with a page on the host.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new() { BaseURL = App.BaseUrl, ViewportSize = new() { Width = width, Height = height } });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
        await Mail.DisposeAsync();
    }
}

/// <summary>A <see cref="BrowserHost"/> under the product's MFA policy (`privileged`).</summary>
public sealed class MfaBrowserHost : BrowserHost
{
    protected override bool ProductMfaPolicy => true;
}
