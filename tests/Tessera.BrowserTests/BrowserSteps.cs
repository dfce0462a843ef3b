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

    private static readonly Lazy<string> AxeScript = new(() =>
    {
        var path = Path.Combine(ServerProcess.RepositoryRoot, "tests", "support", "axe", "node_modules", "axe-core", "axe.min.js");
        return File.Exists(path) ? File.ReadAllText(path) : throw new InvalidOperationException($"{path} is missing: run tests/support/install.sh (test.sh does).");
    });

    /// <summary>
    /// Runs axe-core (WCAG 2.0/2.1 A and AA, and best practices) over the page as it stands and fails with every
    /// violation named: rule, impact, help and the first offending elements.
    /// </summary>
    public static async Task AssertAccessibleAsync(IPage page)
    {
        if (!await page.EvaluateAsync<bool>("() => typeof window.axe !== 'undefined'"))
        {
            // Evaluated through the DevTools protocol, which the page's Content-Security-Policy (script-src 'self') does
            // not govern; a script tag would be refused, as it should be.
            await page.EvaluateAsync(AxeScript.Value + "\n;undefined");
        }

        var violations = await page.EvaluateAsync<string>(
            """
            async () => {
              const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
              return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`).join('\n');
            }
            """);
        Assert.True(violations.Length == 0, $"axe-core found violations on {page.Url}:\n{violations}");
    }

    /// <summary>Fails when the page is wider than the viewport (horizontal scrolling), naming the widest offenders.</summary>
    public static async Task AssertNoHorizontalOverflowAsync(IPage page, int width)
    {
        var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        if (scrollWidth > width)
        {
            var offenders = await page.EvaluateAsync<string>(
                """
                w => [...document.querySelectorAll('body *')]
                  .filter(e => e.getBoundingClientRect().right > w + 0.5)
                  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''} right=${Math.round(e.getBoundingClientRect().right)}`).join(', ')
                """, width);
            Assert.Fail($"{page.Url} is {scrollWidth} px wide at a {width} px viewport; overflowing: {offenders}");
        }
    }

    /// <summary>Keeps the README's screenshots in step with the pages.</summary>
    public static async Task Screenshot(IPage page, string name)
    {
        var folder = Path.Combine(ServerProcess.RepositoryRoot, "docs", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }
}
