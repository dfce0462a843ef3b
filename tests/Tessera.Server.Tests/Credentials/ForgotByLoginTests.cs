using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Credentials;

public sealed class SqliteForgotByLoginTests(SqliteMailedHost host) : ForgotByLoginTests<SqliteMailedHost>(host);

public sealed class PostgresForgotByLoginTests(PostgresMailedHost host) : ForgotByLoginTests<PostgresMailedHost>(host);

/// <summary>
/// Forgot password by username as well as by email, on the API (member <c>login</c>) and the page; and every rule of a
/// new password judged in one answer. A host of their own, so that these requests do not share the credentials rate
/// limit of CredentialTests.
/// </summary>
public abstract class ForgotByLoginTests<THost>(THost host) : IClassFixture<THost> where THost : MailedHost
{
    private const string Good = "Correct-Horse-Battery-7";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private TesseraApp App => host.App;

    [Fact]
    public async Task Forgot_password_by_username_mails_the_accounts_address_and_an_unknown_login_gets_the_same_answer_and_no_mail()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("forgetful");
        var email = $"{username}@example.com";
        await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/users", new { username, email, type = "backoffice", roles = new[] { "Administrator" } }), HttpStatusCode.Created);
        await host.Smtp.WaitForMessageAsync(m => m.To.Contains(email), Patience);
        using var client = App.Client();

        var known = await client.PostAsJsonAsync("/api/v1/password/forgot", new { login = username.ToUpperInvariant() });
        Assert.Equal(HttpStatusCode.Accepted, known.StatusCode);
        await ResetMailsAsync(email, 1);

        var delivered = (await host.Smtp.MessagesAsync()).Count;
        var ignored = await IgnoredAsync();
        var unknown = await client.PostAsJsonAsync("/api/v1/password/forgot", new { login = Seed.Unique("nobody") });
        Assert.Equal(known.StatusCode, unknown.StatusCode);
        Assert.Equal(await known.Content.ReadAsStringAsync(), await unknown.Content.ReadAsStringAsync());

        // The page by login too, answering as for anyone.
        using var browser = App.Client(cookies: true);
        var form = await browser.GetStringAsync("/forgot-password");
        var page = await browser.PostAsync("/forgot-password", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = Seed.Unique("nobody"),
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(form),
        }));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("id=\"forgot-sent\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A sentinel: the dispatcher sends in order, so a mail for either unknown login would have come before it.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/v1/password/forgot", new { email })).StatusCode);
        await ResetMailsAsync(email, 2);
        Assert.Equal(delivered + 1, (await host.Smtp.MessagesAsync()).Count);
        Assert.Equal(ignored + 2, await IgnoredAsync());
    }

    [Fact]
    public async Task A_password_that_breaks_rules_and_a_differing_confirmation_are_refused_together()
    {
        using var api = await Seed.AdminApiAsync(App);
        var user = await Seed.UserAsync(App, UserType.Api, Good, "System");
        var problem = await Expect.ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "password", confirmPassword = "other" }), HttpStatusCode.BadRequest, "password_policy");
        var errors = problem.GetProperty("errors");
        Assert.Contains("too_short", errors.GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("The confirmation does not match the new password.", errors.GetProperty("confirmPassword")[0].GetString());
    }

    private async Task ResetMailsAsync(string email, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while ((await host.Smtp.MessagesAsync()).Count(m => m.To.Contains(email) && m.Subject.Contains("reset", StringComparison.OrdinalIgnoreCase)) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"reset mail {count} to {email} did not arrive");
            await Task.Delay(100);
        }
    }

    private async Task<int> IgnoredAsync()
    {
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync(e => e.Action == "password.forgot" && e.Outcome == "ignored" && e.TargetId == null);
    }
}
