using Microsoft.Playwright;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.BrowserTests;

/// <summary>Steps every browser story takes: signing in, expecting, and keeping the README's screenshots current.</summary>
public static class BrowserSteps
{
    public static async Task SignInAsync(IPage page, string login, string password)
    {
        await page.GotoAsync("/signin");
        await page.FillAsync("#login", login);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit].primary");
        await Expect(page.Locator("#profile-link")).ToBeVisibleAsync();
    }

    public static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    /// <summary>Keeps the README's screenshots in step with the pages.</summary>
    public static async Task Screenshot(IPage page, string name)
    {
        var folder = Path.Combine(ServerProcess.RepositoryRoot, "docs", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }
}
