using System.Net;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.BackOffice;

/// <summary>
/// Which language a Back Office page speaks: the user's profile setting, else the browser's Accept-Language,
/// else English.
/// </summary>
public sealed class BackOfficeLanguageTests(SqliteHost host) : IClassFixture<SqliteHost>
{
    private const string Password = "Lantern-Harbour-7310";

    private TesseraApp App => host.App;

    [Theory]
    // profile setting, Accept-Language, expected
    [InlineData(null, null, "en")]
    [InlineData(null, "de-DE,de;q=0.9", "de")]
    [InlineData(null, "fr-FR,fr;q=0.9", "en")]
    [InlineData(null, "fr-FR, de;q=0.5", "de")]
    [InlineData("de", "en-US", "de")]
    [InlineData("en", "de-DE", "en")]
    public async Task A_page_speaks_the_profile_language_else_the_browsers_else_English(string? setting, string? acceptLanguage, string expected)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await Seed.UpdateUserAsync(App, user.Id, u => u.Language = setting);
        using var browser = App.Client(cookies: true);
        if (acceptLanguage is not null)
        {
            browser.DefaultRequestHeaders.Add("Accept-Language", acceptLanguage);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, user.Username, Password)).StatusCode);
        var response = await browser.GetAsync("/forbidden");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains(expected == "de" ? "Ihnen fehlt das Recht, das diese Seite verlangt." : "You do not hold the privilege this page needs.", html);
        // The layout's texts come from the shared resource (SharedText), found under its own name.
        Assert.Contains(expected == "de" ? ">Abmelden<" : ">Sign out<", html);
        Assert.Contains($"<html lang=\"{expected}\"", html);
    }
}
