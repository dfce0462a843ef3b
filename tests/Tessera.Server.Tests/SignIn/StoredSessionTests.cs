using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteStoredSessionTests(SqliteHost host) : StoredSessionTests<SqliteHost>(host);

public sealed class PostgresStoredSessionTests(PostgresHost host) : StoredSessionTests<PostgresHost>(host);

/// <summary>
/// Back Office sessions are stored records: the cookie names one, and ending the record (sign-out, an administrator,
/// a credential change, idle or absolute expiry) refuses the cookie at once, on every host of the database.
/// </summary>
public abstract class StoredSessionTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Stored-Session-Password-1";
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_cookie_copied_before_sign_out_opens_nothing_after_it()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        var cookie = SessionCookie(await Seed.SignInAsync(browser, user.Username, Password));
        using (var copy = CookieClient(App, cookie))
        {
            Assert.Equal(HttpStatusCode.OK, (await copy.GetAsync("/profile")).StatusCode);
        }

        var home = await browser.GetStringAsync("/");
        var signOut = await browser.PostAsync("/signout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = Seed.AntiforgeryToken(home) }));
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);

        using (var replay = CookieClient(App, cookie))
        {
            var refused = await replay.GetAsync("/profile");
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            Assert.StartsWith("/signin", refused.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        }

        await using var scope = App.Scope(out var db);
        var record = await db.WebSessions.SingleAsync(s => s.UserId == user.Id);
        Assert.Equal(SessionEndReasons.SignOut, record.EndReason);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "session.ended" && a.TargetId == user.Id.ToString() && a.Details!.Contains("signout")));
    }

    [Fact]
    public async Task An_administrator_lists_a_users_sessions_and_ends_one_then_all_each_at_once()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var first = App.Client(cookies: true);
        using var second = App.Client(cookies: true);
        using var third = App.Client(cookies: true);
        await Seed.SignInAsync(first, user.Username, Password);
        await Seed.SignInAsync(second, user.Username, Password);
        await Seed.SignInAsync(third, user.Username, Password);
        using var admin = await Seed.AdminApiAsync(App);

        var listed = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{user.Id}/sessions"), HttpStatusCode.OK);
        Assert.Equal(3, listed.GetArrayLength());
        var one = listed[0];
        foreach (var member in new[] { "id", "createdAt", "lastSeenAt", "expiresAt", "clientAddress", "userAgent", "amr" })
        {
            Assert.True(one.TryGetProperty(member, out _), $"{member} missing: {one}");
        }

        Assert.Equal(["pwd"], one.GetProperty("amr").EnumerateArray().Select(a => a.GetString()));
        var ids = listed.EnumerateArray().Select(s => s.GetProperty("id").GetGuid()).ToList();

        // Which client holds which session: the one whose cookie stops working.
        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/users/{user.Id}/sessions/{ids[0]}"), HttpStatusCode.NoContent);
        var statuses = new[] { (await first.GetAsync("/profile")).StatusCode, (await second.GetAsync("/profile")).StatusCode, (await third.GetAsync("/profile")).StatusCode };
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.Redirect));
        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(2, (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{user.Id}/sessions"), HttpStatusCode.OK)).GetArrayLength());

        await Expect.ProblemAsync(await admin.DeleteAsync($"/api/v1/users/{user.Id}/sessions/{ids[0]}"), HttpStatusCode.NotFound, "session_not_found");
        await Expect.ProblemAsync(await admin.DeleteAsync($"/api/v1/users/{user.Id}/sessions/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "session_not_found");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/users/{Guid.NewGuid()}/sessions"), HttpStatusCode.NotFound, "not_found");

        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/users/{user.Id}/sessions"), HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.Redirect, (await first.GetAsync("/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await second.GetAsync("/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await third.GetAsync("/profile")).StatusCode);
        Assert.Equal(0, (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{user.Id}/sessions"), HttpStatusCode.OK)).GetArrayLength());

        await using var scope = App.Scope(out var db);
        Assert.Equal(3, await db.WebSessions.CountAsync(s => s.UserId == user.Id && s.EndReason == SessionEndReasons.Revoked));
        Assert.Equal(3, await db.AuditEvents.CountAsync(a => a.Action == "session.ended" && a.TargetId == user.Id.ToString()));
        Assert.Equal(2, await db.AuditEvents.CountAsync(a => a.Action == "user.sessions_ended" && a.TargetId == user.Id.ToString()));
    }

    [Fact]
    public async Task A_user_manager_cannot_end_the_sessions_of_an_administrator()
    {
        var victim = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, victim.Username, Password);
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);

        var listed = await Expect.ResponseAsync(await actor.Client.GetAsync($"/api/v1/users/{victim.Id}/sessions"), HttpStatusCode.OK);
        var sessionId = listed[0].GetProperty("id").GetGuid();
        await Expect.ProblemAsync(await actor.Client.DeleteAsync($"/api/v1/users/{victim.Id}/sessions"), HttpStatusCode.Forbidden, "target_outranks_actor");
        await Expect.ProblemAsync(await actor.Client.DeleteAsync($"/api/v1/users/{victim.Id}/sessions/{sessionId}"), HttpStatusCode.Forbidden, "target_outranks_actor");

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
        await using var scope = App.Scope(out var db);
        Assert.Equal(2, await db.AuditEvents.CountAsync(a => a.Action == "access.denied" && a.ActorId == actor.Id && a.Details!.Contains("user.sessions_ended")));
    }

    [Fact]
    public async Task A_viewer_sees_the_Sessions_card_with_nothing_to_press_and_cannot_post_an_end()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, user.Username, Password);
        using var admin = await Seed.AdminApiAsync(App);
        var (_, viewers) = await DelegationArrange.RoleAsync(admin, "viewers", Privileges.ViewUsers);
        var viewer = await Seed.UserAsync(App, UserType.BackOffice, Password, viewers);
        using var viewing = App.Client(cookies: true);
        await Seed.SignInAsync(viewing, viewer.Username, Password);

        var page = await viewing.GetStringAsync($"/admin/users/{user.Id}");
        Assert.Contains("id=\"sessions-card\"", page, StringComparison.Ordinal);
        Assert.Contains($"data-session=", page, StringComparison.Ordinal);
        Assert.DoesNotContain("end-session", page, StringComparison.Ordinal);
        Assert.DoesNotContain("end-all-sessions", page, StringComparison.Ordinal);

        var posted = await viewing.PostAsync($"/admin/users/{user.Id}?handler=EndSessions",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page) }));
        Assert.Equal(HttpStatusCode.Forbidden, posted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
    }

    [Fact]
    public async Task The_caller_sees_their_own_sessions_and_revoking_tokens_ends_them()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, user.Username, Password);
        var token = await AuthorizationCodeClient.TokenForAsync(App, user.Username, Password);
        using var me = Seed.WithBearer(App, token);

        var mine = await Expect.ResponseAsync(await me.GetAsync("/api/v1/me/sessions"), HttpStatusCode.OK);
        Assert.Equal(2, mine.GetArrayLength());

        using var admin = await Seed.AdminApiAsync(App);
        await Expect.ResponseAsync(await admin.PostAsync($"/api/v1/users/{user.Id}/revoke-tokens", null), HttpStatusCode.NoContent);
        await using var scope = App.Scope(out var db);
        Assert.Equal(2, await db.WebSessions.CountAsync(s => s.UserId == user.Id && s.EndReason == SessionEndReasons.Revoked));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/profile")).StatusCode);
    }

    [Fact]
    public async Task A_password_change_on_the_profile_page_ends_the_old_records_and_continues_in_a_new_one()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        using var other = App.Client(cookies: true);
        var before = SessionCookie(await Seed.SignInAsync(browser, user.Username, Password));
        await Seed.SignInAsync(other, user.Username, Password);

        var page = await browser.GetStringAsync("/profile");
        var changed = await browser.PostAsync("/profile", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["CurrentPassword"] = Password,
            ["NewPassword"] = "Another-Stored-Password-2",
            ["ConfirmPassword"] = "Another-Stored-Password-2",
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        Assert.Equal(HttpStatusCode.Redirect, changed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await other.GetAsync("/profile")).StatusCode);

        // The session continues under a new key: a copy of the cookie taken before the change opens nothing.
        Assert.NotEqual(before, SessionCookie(changed));
        using (var copy = CookieClient(App, before))
        {
            Assert.Equal(HttpStatusCode.Redirect, (await copy.GetAsync("/profile")).StatusCode);
        }

        await using var scope = App.Scope(out var db);
        var records = await db.WebSessions.Where(s => s.UserId == user.Id).ToListAsync();
        Assert.Equal(3, records.Count);
        Assert.Single(records, r => r.EndedAt is null);
        Assert.Equal(2, records.Count(r => r.EndReason == SessionEndReasons.PasswordChanged));
    }

    [Fact]
    public async Task Idle_and_absolute_lifetimes_are_enforced_by_the_record()
    {
        await using var app = new TesseraApp(App.Database).Started();
        var idleMinutes = app.Services.GetRequiredService<IOptions<SessionOptions>>().Value.IdleMinutes;
        var user = await Seed.UserAsync(app, UserType.BackOffice, Password);
        using var idle = app.Client(cookies: true);
        using var busy = app.Client(cookies: true);
        await Seed.SignInAsync(idle, user.Username, Password);
        await Seed.SignInAsync(busy, user.Username, Password);

        // The busy session is used just within the idle time, again and again; the idle one is left alone.
        for (var i = 0; i < 3; i++)
        {
            app.Clock.Advance(TimeSpan.FromMinutes(idleMinutes - 2));
            Assert.Equal(HttpStatusCode.OK, (await busy.GetAsync("/profile")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await idle.GetAsync("/profile")).StatusCode);

        // Past the absolute end, however active.
        var absoluteHours = app.Services.GetRequiredService<IOptions<SessionOptions>>().Value.AbsoluteHours;
        for (var elapsed = TimeSpan.FromMinutes(3 * (idleMinutes - 2)); elapsed < TimeSpan.FromHours(absoluteHours); elapsed += TimeSpan.FromMinutes(idleMinutes - 2))
        {
            Assert.Equal(HttpStatusCode.OK, (await busy.GetAsync("/profile")).StatusCode);
            app.Clock.Advance(TimeSpan.FromMinutes(idleMinutes - 2));
        }

        Assert.Equal(HttpStatusCode.Redirect, (await busy.GetAsync("/profile")).StatusCode);
        await using var scope = app.Scope(out var db);
        var reasons = await db.WebSessions.Where(s => s.UserId == user.Id).Select(s => s.EndReason).ToListAsync();
        Assert.Equal([SessionEndReasons.Expired, SessionEndReasons.Idle], reasons.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Records_ended_or_expired_long_ago_are_purged_and_recent_ones_kept()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var now = DateTime.UtcNow;
        var oldEnded = new WebSession { UserId = user.Id, CreatedAt = now.AddDays(-40), LastSeenAt = now.AddDays(-40), ExpiresAt = now.AddDays(-39), EndedAt = now.AddDays(-35), EndReason = "signout" };
        var oldExpired = new WebSession { UserId = user.Id, CreatedAt = now.AddDays(-40), LastSeenAt = now.AddDays(-40), ExpiresAt = now.AddDays(-39) };
        var recent = new WebSession { UserId = user.Id, CreatedAt = now.AddDays(-3), LastSeenAt = now.AddDays(-3), ExpiresAt = now.AddDays(-2), EndedAt = now.AddDays(-3), EndReason = "signout" };
        await using (var scope = App.Scope(out var db))
        {
            db.WebSessions.AddRange(oldEnded, oldExpired, recent);
            await db.SaveChangesAsync();
        }

        // A fresh host purges on its first sign-in (then at most once an hour).
        await using var other = new TesseraApp(App.Database).Started();
        using var browser = other.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, user.Username, Password)).StatusCode);
        await using (var scope = App.Scope(out var db))
        {
            var left = await db.WebSessions.Where(s => s.UserId == user.Id).Select(s => s.Id).ToListAsync();
            Assert.DoesNotContain(oldEnded.Id, left);
            Assert.DoesNotContain(oldExpired.Id, left);
            Assert.Contains(recent.Id, left);
            Assert.Equal(2, left.Count);
        }
    }

    [Fact]
    public async Task A_second_host_on_the_same_database_honours_the_session_and_its_end()
    {
        await using var other = new TesseraApp(App.Database).Started();
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        var cookie = SessionCookie(await Seed.SignInAsync(browser, user.Username, Password));
        using var elsewhere = CookieClient(other, cookie);

        var profile = await elsewhere.GetAsync("/profile");
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        Assert.Contains(user.Username, await profile.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var otherAdmin = await Seed.AdminApiAsync(other);
        var listed = await Expect.ResponseAsync(await otherAdmin.GetAsync($"/api/v1/users/{user.Id}/sessions"), HttpStatusCode.OK);
        Assert.Equal(1, listed.GetArrayLength());

        // Ended on the second host: the first refuses the cookie on its very next request (no cache to wait for).
        await Expect.ResponseAsync(await otherAdmin.DeleteAsync($"/api/v1/users/{user.Id}/sessions/{listed[0].GetProperty("id").GetGuid()}"), HttpStatusCode.NoContent);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/profile")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await elsewhere.GetAsync("/profile")).StatusCode);
    }

    [Fact]
    public async Task Five_wrong_current_passwords_lock_the_account_and_answer_as_before()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var token = await AuthorizationCodeClient.TokenForAsync(App, user.Username, Password);
        using var me = Seed.WithBearer(App, token);
        var details = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var problem = await Expect.ProblemAsync(await me.PostAsJsonAsync("/api/v1/me/password",
                new { currentPassword = "not-it-" + i, newPassword = "Brand-New-Password-9", confirmPassword = "Brand-New-Password-9" }), HttpStatusCode.BadRequest, "wrong_password");
            details.Add(problem.GetProperty("detail").GetString()!);
            Assert.False(problem.TryGetProperty("locked", out _), problem.ToString());
        }

        // The fifth answer says no more than the first: the lock is not announced to whoever is guessing.
        Assert.Single(details.Distinct());
        await using var scope = App.Scope(out var db);
        var stored = await db.Users.SingleAsync(u => u.Id == user.Id);
        Assert.Equal(UserStatus.Locked, stored.Status);
        Assert.Equal(5, await db.AuditEvents.CountAsync(a => a.Action == "password.change" && a.Outcome == "failure" && a.TargetId == user.Id.ToString()));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "user.locked" && a.TargetId == user.Id.ToString()));
    }

    [Fact]
    public async Task Rate_limits_answer_429_with_Retry_After()
    {
        await using var app = new TesseraApp(App.Database, new Dictionary<string, string?>
        {
            ["Tessera:RateLimits:SignIn:PermitLimit"] = "2",
            ["Tessera:RateLimits:Token:PermitLimit"] = "2",
            ["Tessera:RateLimits:OwnPassword:PermitLimit"] = "1",
            ["Tessera:RateLimits:SecondFactor:PermitLimit"] = "1",
        }).Started();
        var user = await Seed.UserAsync(app, UserType.BackOffice, Password);
        using var browser = app.Client(cookies: true);
        Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(browser, user.Username, "wrong-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, user.Username, Password)).StatusCode);
        var page = await browser.GetStringAsync("/signin");
        var limited = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = user.Username, ["Password"] = Password, ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
        Assert.Contains("id=\"rate-limited\"", await limited.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Two token requests pass (the API user's own, then one more); the third is refused.
        var apiUser = await Seed.UserAsync(app, UserType.Api, Password, BuiltInRoles.System);
        using var anonymous = app.Client();
        var token = await Seed.TokenAsync(anonymous, apiUser.Username, Password);
        Assert.Equal(HttpStatusCode.OK, (await Seed.RequestTokenAsync(anonymous, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret)).StatusCode);
        var tokenLimited = await Seed.RequestTokenAsync(anonymous, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        await Expect.ProblemAsync(tokenLimited, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(tokenLimited.Headers.RetryAfter is not null);

        using var api = Seed.WithBearer(app, token);
        var change = new { currentPassword = "wrong", newPassword = "Brand-New-Password-9", confirmPassword = "Brand-New-Password-9" };
        await Expect.ProblemAsync(await api.PostAsJsonAsync("/api/v1/me/password", change), HttpStatusCode.BadRequest, "wrong_password");
        var ownLimited = await api.PostAsJsonAsync("/api/v1/me/password", change);
        await Expect.ProblemAsync(ownLimited, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.True(ownLimited.Headers.RetryAfter is not null);

        // The second step and the step-up prompt share one limit per address; a GET of either form is never limited.
        using var stranger = app.Client();
        var code = new FormUrlEncodedContent(new Dictionary<string, string> { ["code"] = "123456" });
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await stranger.PostAsync("/signin/mfa", code)).StatusCode);
        var stepUpLimited = await stranger.PostAsync("/signin/step-up", code);
        Assert.Equal(HttpStatusCode.TooManyRequests, stepUpLimited.StatusCode);
        Assert.True(stepUpLimited.Headers.RetryAfter is not null);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await stranger.GetAsync("/signin/mfa")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await stranger.PostAsync("/signin/mfa", code)).StatusCode);
    }

    [Fact]
    public async Task A_negative_rate_limit_stops_the_start_and_names_the_setting()
    {
        await using var app = new TesseraApp(App.Database, new Dictionary<string, string?> { ["Tessera:RateLimits:OwnPassword:PermitLimit"] = "-1" });
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains("Tessera:RateLimits:OwnPassword:PermitLimit", failure.ToString(), StringComparison.Ordinal);
    }

    private static string SessionCookie(HttpResponseMessage signIn)
    {
        var header = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("tessera.session=", StringComparison.Ordinal));
        return header[..header.IndexOf(';', StringComparison.Ordinal)];
    }

    /// <summary>A client that sends exactly this cookie, as an attacker replaying a copy would.</summary>
    private static HttpClient CookieClient(TesseraApp app, string cookie)
    {
        var client = app.Client();
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }
}
