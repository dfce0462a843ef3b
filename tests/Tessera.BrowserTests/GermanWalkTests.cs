using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>
/// A German-speaking administrator's browser (Accept-Language de-DE) walks sign-in, the users list, a user and a role:
/// every page says it is German (html lang) and its layout speaks German; the screenshots are the README's German row.
/// </summary>
public sealed class GermanWalkTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_German_browser_signs_in_and_walks_users_a_user_and_a_role_in_German()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, null, BuiltInRoles.Administrator);
        var role = await AdministratorRoleIdAsync();
        var context = await host.Browser.NewContextAsync(new() { BaseURL = App.BaseUrl, Locale = "de-DE", ViewportSize = new() { Width = 1280, Height = 860 } });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();

        await page.GotoAsync("/signin");
        await ExpectGermanAsync(page);
        await Screenshot(page, "de-sign-in");

        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/admin/users");
        await ExpectGermanAsync(page);
        var menu = page.Locator("#side-menu");
        await Expect(menu).ToHaveAttributeAsync("aria-label", "Administration");
        await Expect(menu.Locator("#menu-user-management")).ToHaveTextAsync("Benutzerverwaltung");
        await Expect(menu.Locator("#menu-governance")).ToHaveTextAsync("Governance");
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Benutzer", Exact = true })).ToHaveAttributeAsync("aria-current", "page");
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Prüfprotokoll", Exact = true })).ToBeVisibleAsync();
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Funktionstrennung", Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-out")).ToHaveTextAsync("Abmelden");
        await Expect(page.Locator("a.skip")).ToHaveTextAsync("Zum Inhalt springen");
        await Screenshot(page, "de-users");

        await page.GotoAsync($"/admin/users/{user.Id}");
        await ExpectGermanAsync(page);
        await Expect(page.Locator("body")).ToContainTextAsync(user.Username);
        await Expect(page.Locator("#profile-link")).ToHaveAttributeAsync("title", "Ihr Profil");
        await Screenshot(page, "de-user");

        await page.GotoAsync($"/admin/roles/{role}");
        await ExpectGermanAsync(page);
        await Expect(page.Locator("body")).ToContainTextAsync(BuiltInRoles.Administrator);
        await Expect(menu.GetByRole(AriaRole.Link, new() { Name = "Rollen", Exact = true })).ToHaveAttributeAsync("aria-current", "page");
        await Screenshot(page, "de-role");
        await context.CloseAsync();
    }

    [Fact]
    public async Task On_a_phone_the_menu_folds_under_its_button_and_opens_from_the_keyboard()
    {
        var context = await host.Browser.NewContextAsync(new() { BaseURL = App.BaseUrl, Locale = "de-DE", ViewportSize = new() { Width = 390, Height = 844 } });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        await page.GotoAsync("/admin/access-report");

        var toggle = page.Locator("#side-menu summary");
        var users = page.Locator("#side-menu").GetByRole(AriaRole.Link, new() { Name = "Benutzer", Exact = true });
        await Expect(toggle).ToHaveTextAsync("Menü");
        await Expect(users).ToBeHiddenAsync();
        await AssertNoHorizontalOverflowAsync(page, 390);

        await toggle.FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(users).ToBeVisibleAsync();
        await AssertNoHorizontalOverflowAsync(page, 390);
        await context.CloseAsync();
    }

    private static async Task ExpectGermanAsync(IPage page)
        => Assert.Equal("de", await page.EvaluateAsync<string>("() => document.documentElement.lang"));

    private async Task<string> AdministratorRoleIdAsync()
    {
        using var api = await Seed.AdminApiAsync(App);
        var roles = await api.GetFromJsonAsync<JsonElement>("/api/v1/roles");
        return roles.GetProperty("items").EnumerateArray().First(r => r.GetProperty("name").GetString() == BuiltInRoles.Administrator).GetProperty("id").GetString()!;
    }
}
