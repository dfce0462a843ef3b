using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Credentials;

/// <summary>A Tessera host whose mail goes to a real SMTP server on loopback.</summary>
public abstract class MailedHost(string provider) : IAsyncLifetime
{
    public TesseraApp App { get; private set; } = null!;

    public SmtpSinkProcess Smtp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Smtp = await SmtpSinkProcess.StartAsync();
        App = new TesseraApp(TestDatabase.Create(provider), new Dictionary<string, string?>
        {
            ["Tessera:Mail:Smtp:Host"] = "127.0.0.1",
            ["Tessera:Mail:Smtp:Port"] = Smtp.SmtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tessera:Mail:Smtp:Security"] = "None",
            ["Tessera:Mail:PollSeconds"] = "1",
            ["Tessera:Mail:RetrySeconds"] = "1",
        }).Started();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

public sealed class SqliteMailedHost() : MailedHost("sqlite");

public sealed class PostgresMailedHost() : MailedHost("postgres");

public sealed class SqliteCredentialTests(SqliteMailedHost host) : CredentialTests<SqliteMailedHost>(host);

public sealed class PostgresCredentialTests(PostgresMailedHost host) : CredentialTests<PostgresMailedHost>(host);

/// <summary>Invitations, forgotten passwords, the policy, and what a password change ends.</summary>
public abstract partial class CredentialTests<THost>(THost host) : IClassFixture<THost> where THost : MailedHost
{
    private const string Good = "Correct-Horse-Battery-7";
    private TesseraApp App => host.App;

    private async Task<(string Id, string Email)> InviteAsync(HttpClient api)
    {
        var username = Seed.Unique("invited");
        var response = await api.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", type = "backoffice", roles = new[] { "Administrator" } });
        var user = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, user.ToString());
        return (user.GetProperty("id").GetString()!, $"{username}@example.com");
    }

    private async Task<string> LinkTokenAsync(string email, string subjectContains)
    {
        var mail = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(email) && m.Subject.Contains(subjectContains, StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(20));
        var match = TokenPattern().Match(mail.Text);
        Assert.True(match.Success, mail.Text);
        Assert.StartsWith(App.BaseUrl + "/set-password?token=", match.Value, StringComparison.Ordinal);
        Assert.Contains(match.Groups[1].Value, mail.Html ?? "", StringComparison.Ordinal);
        return match.Groups[1].Value;
    }

    private async Task<HttpResponseMessage> ResetAsync(string token, string password, string? confirm = null)
    {
        using var client = App.Client();
        return await client.PostAsJsonAsync("/api/v1/password/reset", new { token, newPassword = password, confirmPassword = confirm ?? password });
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {body}");
        var json = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(code, json.GetProperty("code").GetString());
        return json;
    }

    [Fact]
    public async Task The_invitation_arrives_its_link_sets_the_password_once_and_the_user_signs_in()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (id, email) = await InviteAsync(api);
        var token = await LinkTokenAsync(email, "");

        using (var page = App.Client())
        {
            var html = await page.GetStringAsync("/set-password?token=" + token);
            Assert.Contains("Set your password", html, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await ResetAsync(token, Good)).StatusCode);
        await ProblemAsync(await ResetAsync(token, "Another-Good-Password-8"), HttpStatusCode.BadRequest, "invalid_token");

        using var browser = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, email, Good)).StatusCode);
        var user = await api.GetFromJsonAsync<JsonElement>($"/api/v1/users/{id}");
        Assert.Equal("active", user.GetProperty("status").GetString());
        using var used = App.Client();
        Assert.Contains("This link cannot be used", await used.GetStringAsync("/set-password?token=" + token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_link_fails_and_a_password_set_otherwise_voids_the_link()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (id, email) = await InviteAsync(api);
        var token = await LinkTokenAsync(email, "");
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync($"/api/v1/users/{id}/password", new { newPassword = Good, confirmPassword = Good })).StatusCode);
        await ProblemAsync(await ResetAsync(token, "Yet-Another-Password-9"), HttpStatusCode.BadRequest, "invalid_token");

        var (_, second) = await InviteAsync(api);
        var late = await LinkTokenAsync(second, "");
        App.Clock.Advance(TimeSpan.FromHours(73));
        try
        {
            await ProblemAsync(await ResetAsync(late, Good), HttpStatusCode.BadRequest, "invalid_token");
        }
        finally
        {
            App.Clock.Advance(TimeSpan.FromHours(-73));
        }
    }

    [Fact]
    public async Task Forgot_password_answers_the_same_for_known_and_unknown_emails_and_mails_only_the_known()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (_, email) = await InviteAsync(api);
        await LinkTokenAsync(email, "");
        using var client = App.Client();
        var known = await client.PostAsJsonAsync("/api/v1/password/forgot", new { email = email.ToUpperInvariant() });
        var unknownEmail = $"nobody.{Guid.NewGuid():N}@example.com";
        var unknown = await client.PostAsJsonAsync("/api/v1/password/forgot", new { email = unknownEmail });
        Assert.Equal(HttpStatusCode.Accepted, known.StatusCode);
        Assert.Equal(known.StatusCode, unknown.StatusCode);
        Assert.Equal(await known.Content.ReadAsStringAsync(), await unknown.Content.ReadAsStringAsync());

        var token = await LinkTokenAsync(email, "reset");
        Assert.Equal(HttpStatusCode.NoContent, (await ResetAsync(token, Good)).StatusCode);
        await ProblemAsync(await ResetAsync(token, Good + "x"), HttpStatusCode.BadRequest, "invalid_token");
        await Task.Delay(1500);
        Assert.DoesNotContain(await host.Smtp.MessagesAsync(), m => m.To.Contains(unknownEmail));
    }

    [Fact]
    public async Task A_rejected_password_gets_every_violated_rule_at_once_and_history_is_enforced()
    {
        using var api = await Seed.AdminApiAsync(App);
        var user = await Seed.UserAsync(App, UserType.Api, Good, "System");
        var problem = await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "password", confirmPassword = "password" }), HttpStatusCode.BadRequest, "password_policy");
        var codes = problem.GetProperty("errors").GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()).ToList();
        Assert.Contains("too_short", codes);
        Assert.Contains("too_common", codes);
        var named = await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = user.Username + "-suffix-long", confirmPassword = user.Username + "-suffix-long" }), HttpStatusCode.BadRequest, "password_policy");
        Assert.Contains("contains_username", named.GetProperty("errors").GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()));
        await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "Fresh-Password-Long-3", confirmPassword = "Fresh-Password-Long-3!" }), HttpStatusCode.BadRequest, "confirmation_mismatch");

        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "Second-Password-Long-2", confirmPassword = "Second-Password-Long-2" })).StatusCode);
        var reused = await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = Good, confirmPassword = Good }), HttpStatusCode.BadRequest, "password_policy");
        Assert.Contains("reused", reused.GetProperty("errors").GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task The_policy_is_read_and_replaced_validated_and_audited()
    {
        using var api = await Seed.AdminApiAsync(App);
        var policy = await api.GetFromJsonAsync<JsonElement>("/api/v1/password-policy");
        Assert.Equal(12, policy.GetProperty("minLength").GetInt32());
        Assert.Equal(5, policy.GetProperty("historyCount").GetInt32());
        await ProblemAsync(await api.PutAsJsonAsync("/api/v1/password-policy", new { minLength = 2, maxLength = 10 }), HttpStatusCode.BadRequest, "validation_failed");

        var stricter = JsonSerializer.Deserialize<Dictionary<string, object>>(policy.GetRawText())!;
        stricter["requireDigit"] = true;
        stricter["requireSymbol"] = true;
        Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", stricter)).StatusCode);
        try
        {
            var user = await Seed.UserAsync(App, UserType.Api, Good, "System");
            var problem = await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "NoDigitsOrSymbolsHere", confirmPassword = "NoDigitsOrSymbolsHere" }), HttpStatusCode.BadRequest, "password_policy");
            var codes = problem.GetProperty("errors").GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()).ToList();
            Assert.Contains("missing_digit", codes);
            Assert.Contains("missing_symbol", codes);
            await using var scope = App.Scope(out var db);
            Assert.True(await db.AuditEvents.AnyAsync(a => a.Action == "password_policy.updated"));
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", JsonSerializer.Deserialize<object>(policy.GetRawText()))).StatusCode);
        }
    }

    [Fact]
    public async Task A_password_change_ends_the_users_tokens_and_SSO_users_have_no_password_here()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Good, "System");
        using var client = App.Client();
        using var api = Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Good));
        await ProblemAsync(await api.PostAsJsonAsync("/api/v1/me/password", new { currentPassword = "wrong-current-1", newPassword = "Next-Password-Long-3", confirmPassword = "Next-Password-Long-3" }), HttpStatusCode.BadRequest, "wrong_password");
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync("/api/v1/me/password", new { currentPassword = Good, newPassword = "Next-Password-Long-3", confirmPassword = "Next-Password-Long-3" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/v1/me")).StatusCode);
        Assert.NotEmpty(await Seed.TokenAsync(client, user.Username, "Next-Password-Long-3"));

        using var admin = await Seed.AdminApiAsync(App);
        var sso = await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, null);
        await ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/users/{sso.Id}/password", new { newPassword = Good, confirmPassword = Good }), HttpStatusCode.Conflict, "sso_user");
        await ProblemAsync(await admin.PostAsync($"/api/v1/users/{sso.Id}/invitation", null), HttpStatusCode.Conflict, "sso_user");
    }

    [Fact]
    public async Task Lockout_follows_the_policy_and_unlock_ends_it()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Good);
        using var browser = App.Client(cookies: true);
        for (var i = 0; i < 5; i++)
        {
            await Seed.SignInAsync(browser, user.Username, "wrong-password-" + i);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(browser, user.Username, Good)).StatusCode);
        using var api = await Seed.AdminApiAsync(App);
        Assert.Equal("locked", (await api.GetFromJsonAsync<JsonElement>($"/api/v1/users/{user.Id}")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsync($"/api/v1/users/{user.Id}/unlock", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, user.Username, Good)).StatusCode);
    }

    [Fact]
    public async Task An_expired_password_must_be_changed_at_the_next_sign_in()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Good);
        await Seed.UpdateUserAsync(App, user.Id, u => u.PasswordChangedAt = DateTime.UtcNow.AddDays(-100));
        using var api = await Seed.AdminApiAsync(App);
        var policy = await api.GetFromJsonAsync<JsonElement>("/api/v1/password-policy");
        var aged = JsonSerializer.Deserialize<Dictionary<string, object>>(policy.GetRawText())!;
        aged["maxAgeDays"] = 90;
        Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", aged)).StatusCode);
        try
        {
            using var browser = App.Client(cookies: true);
            var response = await Seed.SignInAsync(browser, user.Username, Good);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            Assert.StartsWith("/set-password?expired=true&token=", response.Headers.Location?.OriginalString, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).StatusCode);
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", JsonSerializer.Deserialize<object>(policy.GetRawText()))).StatusCode);
        }
    }

    [Fact]
    public async Task With_SMTP_down_the_user_is_created_and_the_invitation_arrives_after_SMTP_returns()
    {
        using var api = await Seed.AdminApiAsync(App);
        await host.Smtp.StopAsync();
        string email;
        try
        {
            (_, email) = await InviteAsync(api);
            await Task.Delay(2500);
            await using var scope = App.Scope(out var db);
            var pending = await db.OutboxMessages.SingleAsync(m => m.To == email);
            Assert.Equal("pending", pending.Status);
        }
        finally
        {
            await host.Smtp.RestartAsync();
        }

        await LinkTokenAsync(email, "");
    }

    [GeneratedRegex(@"https?://[^\s""<>]+/set-password\?token=([A-Za-z0-9_\-]+)")]
    private static partial Regex TokenPattern();
}
