using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The Sessions cards: a user sees where they are signed in and signs out their other sessions; an administrator ends a user's session.</summary>
public sealed class SessionsCardTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Sessions-Card-Password-1";

    private TesseraApp App => host.App;

    [Fact]
    public async Task Signing_out_the_other_session_from_the_profile_sends_that_browser_to_sign_in()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var here = await host.NewPageAsync();
        var there = await host.NewPageAsync();
        await SignInAsync(there, user.Username, Password);
        await SignInAsync(here, user.Username, Password);

        await here.GotoAsync("/profile");
        var card = here.Locator("#sessions-card");
        await Expect(card.Locator("tbody tr")).ToHaveCountAsync(2);
        await Expect(card.Locator("#this-session")).ToHaveCountAsync(1);
        await Expect(card.Locator("#this-session")).ToHaveTextAsync("this session");
        await Screenshot(here, "profile-sessions");

        await here.ClickAsync("#end-other-sessions");
        await Expect(here.Locator("#sessions-card tbody tr")).ToHaveCountAsync(1);
        await Expect(here.Locator("#end-other-sessions")).ToHaveCountAsync(0);

        await there.GotoAsync("/profile");
        await Expect(there.Locator("#login")).ToBeVisibleAsync();
        Assert.StartsWith($"{App.BaseUrl}/signin", there.Url, StringComparison.Ordinal);

        // This browser's session goes on.
        await here.GotoAsync("/profile");
        await Expect(here.Locator("#profile-username")).ToHaveTextAsync(user.Username);
    }

    [Fact]
    public async Task An_administrator_ends_a_users_session_from_the_user_page()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        var users = await host.NewPageAsync();
        await SignInAsync(users, user.Username, Password);
        var admins = await host.NewPageAsync();
        await SignInAsync(admins, admin.Username, Password);

        await admins.GotoAsync($"/admin/users/{user.Id}");
        var card = admins.Locator("#sessions-card");
        await Expect(card.Locator("tbody tr[data-session]")).ToHaveCountAsync(1);
        await card.Locator("button.end-session").ClickAsync();
        await Expect(admins.Locator("#sessions-card #no-sessions")).ToBeVisibleAsync();
        await Expect(admins.Locator("#end-all-sessions")).ToHaveCountAsync(0);

        await users.GotoAsync("/profile");
        await Expect(users.Locator("#login")).ToBeVisibleAsync();
    }
}
