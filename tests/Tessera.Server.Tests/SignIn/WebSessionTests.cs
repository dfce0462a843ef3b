using System.Net;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteWebSessionTests(SqliteHost host) : WebSessionTests<SqliteHost>(host);

public sealed class PostgresWebSessionTests(PostgresHost host) : WebSessionTests<PostgresHost>(host);

/// <summary>BackOffice users sign in to the web UI with a cookie session.</summary>
public abstract class WebSessionTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Back-Office-Password-1";
    private const string Generic = "The username or password is incorrect";
    private TesseraApp App => host.App;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_BackOffice_user_signs_in_with_username_or_email_and_gets_a_hardened_cookie(bool byEmail)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/")).StatusCode);

        var response = await Seed.SignInAsync(client, byEmail ? user.Email.ToUpperInvariant() : user.Username, Password);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tessera.session=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);

        var home = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains(user.Username, await home.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.password" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
        Assert.NotNull((await db.Users.SingleAsync(u => u.Id == user.Id)).LastSignInAt);
    }

    [Fact]
    public async Task Wrong_passwords_API_users_SSO_users_and_the_reserved_user_all_get_one_generic_message()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var api = await Seed.UserAsync(App, UserType.Api, Password, "System");
        var sso = await Seed.UserAsync(App, UserType.BackOffice, Password, CredentialMode.Sso, null);
        using var client = App.Client(cookies: true);
        foreach (var (login, password) in new[] { (user.Username, "wrong-password-1"), (api.Username, Password), (sso.Username, Password), (Usernames.Reserved, Password), ("nobody.at.all", Password) })
        {
            var response = await Seed.SignInAsync(client, login, password);
            var html = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains(Generic, html, StringComparison.Ordinal);
            Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("tessera.session=", StringComparison.Ordinal) && !c.Contains("expires=Thu, 01 Jan 1970", StringComparison.Ordinal)), login);
        }
    }

    [Fact]
    public async Task The_sign_in_form_refuses_a_post_without_the_antiforgery_token()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = App.Client(cookies: true);
        var response = await client.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["Login"] = user.Username, ["Password"] = Password }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie") && response.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith("tessera.session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_until_the_lockout_ends()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = App.Client(cookies: true);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(client, user.Username, "wrong-" + i)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(client, user.Username, Password)).StatusCode);
        await using (var scope = App.Scope(out var db))
        {
            var locked = await db.Users.SingleAsync(u => u.Id == user.Id);
            Assert.Equal(UserStatus.Locked, locked.Status);
            Assert.NotNull(locked.LockedUntil);
        }

        await Seed.UpdateUserAsync(App, user.Id, u => u.LockedUntil = DateTime.UtcNow.AddSeconds(-1));
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(client, user.Username, Password)).StatusCode);
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(UserStatus.Active, (await db.Users.SingleAsync(u => u.Id == user.Id)).Status);
        }
    }

    [Fact]
    public async Task Sign_out_ends_the_session()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var client = App.Client(cookies: true);
        await Seed.SignInAsync(client, user.Username, Password);
        var home = await client.GetStringAsync("/");
        var response = await client.PostAsync("/signout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = Seed.AntiforgeryToken(home) }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/")).StatusCode);
        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signout" && a.TargetId == user.Id.ToString()));
    }

    [Theory]
    [InlineData("password")]
    [InlineData("disable")]
    [InlineData("delete")]
    public async Task A_password_change_disable_or_delete_ends_every_session_of_the_user(string change)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var first = App.Client(cookies: true);
        using var second = App.Client(cookies: true);
        await Seed.SignInAsync(first, user.Username, Password);
        await Seed.SignInAsync(second, user.Username, Password);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/")).StatusCode);

        if (change == "delete")
        {
            await using var scope = App.Scope(out var db);
            await db.Users.Where(u => u.Id == user.Id).ExecuteDeleteAsync();
        }
        else
        {
            await Seed.UpdateUserAsync(App, user.Id, u =>
            {
                if (change == "password")
                {
                    u.SecurityStamp = User.NewStamp();
                }
                else
                {
                    u.Status = UserStatus.Disabled;
                }
            });
        }

        App.Clock.Advance(TimeSpan.FromSeconds(5.5)); // past CallerCacheSeconds: the time bound, when no notification says so
        Assert.Equal(HttpStatusCode.Redirect, (await first.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await second.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task A_session_ends_after_the_absolute_lifetime_however_active()
    {
        await using var app = new TesseraApp(App.Database).Started();
        var user = await Seed.UserAsync(app, UserType.BackOffice, Password);
        using var client = app.Client(cookies: true);
        await Seed.SignInAsync(client, user.Username, Password);
        for (var hour = 0; hour < 12; hour++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
            app.Clock.Advance(TimeSpan.FromMinutes(25));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
            app.Clock.Advance(TimeSpan.FromMinutes(25));
            if (hour * 50 > 12 * 60)
            {
                break;
            }
        }

        app.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task Pages_carry_the_security_headers()
    {
        using var client = App.Client();
        var response = await client.GetAsync("/signin");
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);

        // Forms post to Tessera itself; the redirects that follow may also reach the registered clients' redirect URIs.
        Assert.Contains("form-action 'self' http://127.0.0.1:47999 com.example.console: https://other.example;", csp, StringComparison.Ordinal);
        Assert.True(response.Headers.Contains("Referrer-Policy"));
    }
}
