using System.Net.Http.Json;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// Every Back Office page, in English and in German: axe-core finds no violation at desktop width, nothing
/// scrolls sideways on a 390 × 844 phone, and the page speaks the language asked for (its html lang).
/// </summary>
public sealed class EveryPageTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private TesseraApp App => host.App;

    /// <summary>The pages a signed-in administrator reaches; {user}, {role}, {group}, {review}, {customer} and {webhook} are seeded ids.</summary>
    private static readonly string[] AdminPages =
    [
        "/", "/profile", "/profile/mfa",
        "/admin/users", "/admin/users?status=active&type=BackOffice", "/admin/users/new", "/admin/users/{user}",
        "/admin/groups", "/admin/groups/{group}", "/admin/groups/new",
        "/admin/roles", "/admin/roles/{role}", "/admin/roles/{role}?tab=holders", "/admin/roles/new",
        "/admin/resources", "/admin/customers", "/admin/customers/{customer}",
        "/admin/webhooks", "/admin/webhooks/{webhook}",
        "/admin/audit", "/admin/password-policy", "/admin/mfa-policy",
        "/admin/approvals", "/admin/approval-policy", "/admin/sod-constraints", "/admin/sod-constraints/new",
        "/admin/access-report", "/admin/reviews", "/admin/reviews/{review}",
        "/agent", "/forbidden",
    ];

    /// <summary>The pages anyone reaches before signing in.</summary>
    private static readonly string[] PublicPages = ["/signin", "/forgot-password", "/set-password?token=not-a-token"];

    public static TheoryData<string> Languages() => new() { "en", "de" };

    [Theory]
    [MemberData(nameof(Languages))]
    public async Task Every_page_passes_axe_core_in_each_language(string language)
        => await WalkAsync(language, 1280, 900, AssertAccessibleAsync);

    [Theory]
    [MemberData(nameof(Languages))]
    public async Task No_page_scrolls_sideways_on_a_390_pixel_phone(string language)
        => await WalkAsync(language, 390, 844, page => AssertNoHorizontalOverflowAsync(page, 390));

    /// <summary>
    /// Opens every page (public ones first, then signed in as the administrator) and checks each, collecting every
    /// page's failure so that one run names them all. TESSERA_PAGES (comma-separated paths) narrows a local run.
    /// </summary>
    private async Task WalkAsync(string language, int width, int height, Func<IPage, Task> check)
    {
        var ids = await SeedAsync();
        var only = Environment.GetEnvironmentVariable("TESSERA_PAGES")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool Wanted(string path) => only is null || only.Contains(path);
        var failures = new List<string>();
        var page = await NewPageAsync(language, width, height);

        async Task VisitAsync(string template)
        {
            var path = Fill(template, ids);
            try
            {
                var response = await page.GotoAsync(path);
                Assert.True(response is { Ok: true } || template == "/forbidden", $"{path} answered {response?.Status}");
                Assert.Equal(language, await page.EvaluateAsync<string>("() => document.documentElement.lang"));
                await check(page);
            }
            catch (Exception e) when (e is Xunit.Sdk.XunitException or PlaywrightException)
            {
                failures.Add($"{template}: {e.Message}");
            }
        }

        foreach (var path in PublicPages.Where(Wanted))
        {
            await VisitAsync(path);
        }

        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        foreach (var path in AdminPages.Where(Wanted))
        {
            await VisitAsync(path);
        }

        Assert.True(failures.Count == 0, $"{failures.Count} page(s) failed in {language} at {width} px:\n" + string.Join("\n\n", failures));
    }

    private async Task<IPage> NewPageAsync(string language, int width, int height)
    {
        var context = await host.Browser.NewContextAsync(new()
        {
            BaseURL = App.BaseUrl,
            ViewportSize = new() { Width = width, Height = height },
            Locale = language == "de" ? "de-DE" : "en-US", // the browser's Accept-Language
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    private static string Fill(string path, IReadOnlyDictionary<string, string> ids)
        => ids.Aggregate(path, (p, id) => p.Replace("{" + id.Key + "}", id.Value, StringComparison.Ordinal));

    private async Task<IReadOnlyDictionary<string, string>> SeedAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var user = await Seed.UserAsync(App, UserType.BackOffice, null);
        using var api = await Seed.AdminApiAsync(App);
        var role = await CreatedIdAsync(await api.PostAsJsonAsync("/api/v1/roles", new
        {
            name = $"Tellers-{suffix}", description = "Counter staff", privileges = new[] { Privileges.ViewUsers }, rules = Array.Empty<object>(),
        }));
        var group = await CreatedIdAsync(await api.PostAsJsonAsync("/api/v1/groups", new
        {
            name = $"Branch-{suffix}", description = "One branch", roles = new[] { $"Tellers-{suffix}" }, userIds = new[] { user.Id },
        }));
        var reviewer = await Seed.UserAsync(App, UserType.BackOffice, "Reviewer-Password-2026-x", BuiltInRoles.Administrator);
        var review = await CreatedIdAsync(await api.PostAsJsonAsync("/api/v1/access-reviews", new
        {
            name = $"Review {suffix}", scope = new { roles = new[] { $"Tellers-{suffix}" } }, reviewers = new[] { reviewer.Id },
            dueAt = DateTimeOffset.UtcNow.AddDays(14),
        }));
        var customer = await CreatedIdAsync(await api.PostAsJsonAsync("/api/v1/customers", new
        {
            reference = $"C-{suffix}", email = $"c-{suffix}@example.test", firstName = "Erika", lastName = "Mustermann",
        }));
        var webhook = await CreatedIdAsync(await api.PostAsJsonAsync("/api/v1/webhooks", new
        {
            url = $"https://hooks.example.com/{suffix}/a-rather-long-path-that-a-phone-must-wrap", description = "CRM", eventTypes = new[] { "user.*", "role.created" },
        }));
        await WebhookPagesTests.DeliveryAsync(App, Guid.Parse(webhook), "pending");
        return new Dictionary<string, string>
        {
            ["user"] = user.Id.ToString(), ["role"] = role, ["group"] = group, ["review"] = review, ["customer"] = customer, ["webhook"] = webhook,
        };
    }

    private static async Task<string> CreatedIdAsync(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;
    }
}
