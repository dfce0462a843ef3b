using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Users;
using Tessera.Server.Mail;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Credentials;

/// <summary>Password strength, the notices of password and email changes, and the outbox's protected bodies.</summary>
public abstract partial class CredentialTests<THost>
{
    private const string ChangedSubject = "password was changed";

    private Task<ReceivedMail> NoticeAsync(string email, string subject)
        => host.Smtp.WaitForMessageAsync(m => m.To.Contains(email) && m.Subject.Contains(subject, StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(20));

    private async Task<int> CountAsync(string email, string subject)
        => (await host.Smtp.MessagesAsync()).Count(m => m.To.Contains(email) && m.Subject.Contains(subject, StringComparison.OrdinalIgnoreCase));

    [Theory]
    [InlineData("password123456")]
    [InlineData("Password1234!")]
    public async Task A_guessable_password_is_refused_by_default_with_a_warning_and_suggestions(string password)
    {
        using var api = await Seed.AdminApiAsync(App);
        var user = await Seed.UserAsync(App, UserType.Api, Good, "System");

        var problem = await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = password, confirmPassword = password }), HttpStatusCode.BadRequest, "password_policy");

        Assert.Contains("too_weak", problem.GetProperty("errors").GetProperty("newPassword").EnumerateArray().Select(c => c.GetString()));
        var weak = problem.GetProperty("violations").EnumerateArray().Single(v => v.GetProperty("code").GetString() == "too_weak");
        Assert.False(string.IsNullOrWhiteSpace(weak.GetProperty("warning").GetString()), weak.ToString());
        Assert.NotEmpty(weak.GetProperty("suggestions").EnumerateArray());
    }

    [Fact]
    public async Task The_least_strength_is_a_policy_setting_from_0_to_4()
    {
        using var api = await Seed.AdminApiAsync(App);
        var policy = await api.GetFromJsonAsync<JsonElement>("/api/v1/password-policy");
        Assert.Equal(3, policy.GetProperty("minStrength").GetInt32());

        var settings = JsonSerializer.Deserialize<Dictionary<string, object>>(policy.GetRawText())!;
        settings["minStrength"] = 5;
        var invalid = await ProblemAsync(await api.PutAsJsonAsync("/api/v1/password-policy", settings), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(invalid.GetProperty("errors").TryGetProperty("minStrength", out _), invalid.ToString());

        settings["minStrength"] = 0;
        Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", settings)).StatusCode);
        try
        {
            var user = await Seed.UserAsync(App, UserType.Api, Good, "System");
            Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = "Password1234!", confirmPassword = "Password1234!" })).StatusCode);
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PutAsJsonAsync("/api/v1/password-policy", JsonSerializer.Deserialize<object>(policy.GetRawText()))).StatusCode);
        }
    }

    [Fact]
    public async Task The_set_password_page_shows_why_a_password_is_weak_and_what_to_do()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (_, email) = await InviteAsync(api);
        var token = await LinkTokenAsync(email, "");
        using var browser = App.Client(cookies: true);
        var form = await browser.GetStringAsync("/set-password?token=" + token);
        Assert.Contains("Hard to guess", form, StringComparison.Ordinal);

        var posted = await browser.PostAsync("/set-password", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(form),
            ["token"] = token,
            ["NewPassword"] = "password123456",
            ["ConfirmPassword"] = "password123456",
        }));
        var html = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.BadRequest, $"{(int)posted.StatusCode}: {html}");
        Assert.Contains("too easy to guess", html, StringComparison.Ordinal);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(Tessera.Core.Credentials.ZxcvbnEstimator.Suggestions.AnotherWord), html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_password_changed_notice_goes_out_on_an_invitation_a_reset_an_admin_set_and_a_self_change()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (id, email) = await InviteAsync(api);
        var invitation = await LinkTokenAsync(email, "");
        Assert.Equal(HttpStatusCode.NoContent, (await ResetAsync(invitation, Good)).StatusCode);
        var notice = await NoticeAsync(email, ChangedSubject);
        Assert.Contains("was just changed", notice.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("set-password?token=", notice.Text, StringComparison.Ordinal);

        using (var client = App.Client())
        {
            Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/v1/password/forgot", new { email })).StatusCode);
        }

        var reset = await LinkTokenAsync(email, "reset");
        Assert.Equal(HttpStatusCode.NoContent, (await ResetAsync(reset, "Second-Password-Long-2")).StatusCode);
        await WaitForCountAsync(email, ChangedSubject, 2);

        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync($"/api/v1/users/{id}/password", new { newPassword = "Next-Password-Long-3", confirmPassword = "Next-Password-Long-3" })).StatusCode);
        await WaitForCountAsync(email, ChangedSubject, 3);

        var apiUser = await Seed.UserAsync(App, UserType.Api, Good, CredentialMode.Password, $"{Seed.Unique("self")}@example.com", "System");
        using var anonymous = App.Client();
        using var self = Seed.WithBearer(App, await Seed.TokenAsync(anonymous, apiUser.Username, Good));
        Assert.Equal(HttpStatusCode.NoContent, (await self.PostAsJsonAsync("/api/v1/me/password", new { currentPassword = Good, newPassword = "Next-Password-Long-3", confirmPassword = "Next-Password-Long-3" })).StatusCode);
        await NoticeAsync(apiUser.Email, ChangedSubject);

        // A refused change sends nothing: the sentinel below arrives after anything the refusal could have queued.
        await ProblemAsync(await api.PostAsJsonAsync($"/api/v1/users/{id}/password", new { newPassword = "password123456", confirmPassword = "password123456" }), HttpStatusCode.BadRequest, "password_policy");
        var sentinel = await Seed.UserAsync(App, UserType.Api, Good, CredentialMode.Password, $"{Seed.Unique("sentinel")}@example.com", "System");
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsJsonAsync($"/api/v1/users/{sentinel.Id}/password", new { newPassword = "Next-Password-Long-3", confirmPassword = "Next-Password-Long-3" })).StatusCode);
        await NoticeAsync(sentinel.Email, ChangedSubject);
        Assert.Equal(3, await CountAsync(email, ChangedSubject));
    }

    [Fact]
    public async Task An_email_change_tells_the_old_address()
    {
        using var api = await Seed.AdminApiAsync(App);
        var (id, email) = await InviteAsync(api);
        var renamed = $"{Seed.Unique("moved")}@example.com";

        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { email = renamed })).StatusCode);

        var notice = await NoticeAsync(email, "email address was changed");
        Assert.Contains(renamed, notice.Text, StringComparison.Ordinal);
        Assert.Contains(email, notice.Text, StringComparison.Ordinal);
        Assert.Contains(renamed.Split('@')[0], notice.Html ?? "", StringComparison.Ordinal);

        // Another change of something else tells nobody: the sentinel arrives after anything it could have queued.
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { firstName = "Renamed" })).StatusCode);
        var sentinel = $"{Seed.Unique("sentinel")}@example.com";
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { email = sentinel })).StatusCode);
        await NoticeAsync(renamed, "email address was changed");
        Assert.Equal(1, await CountAsync(email, "email address was changed"));
        Assert.Equal(0, await CountAsync(sentinel, "email address was changed"));
    }

    [Fact]
    public async Task The_outbox_stores_bodies_protected_and_still_sends_rows_written_plain_before()
    {
        using var api = await Seed.AdminApiAsync(App);
        await host.Smtp.StopAsync();
        string email;
        try
        {
            (_, email) = await InviteAsync(api);
            await using var scope = App.Scope(out var db);
            var row = await db.OutboxMessages.AsNoTracking().SingleAsync(m => m.To == email);
            Assert.StartsWith(OutboxBodies.ProtectedPrefix, row.TextBody, StringComparison.Ordinal);
            Assert.StartsWith(OutboxBodies.ProtectedPrefix, row.HtmlBody, StringComparison.Ordinal);
            Assert.DoesNotContain("token=", row.TextBody, StringComparison.Ordinal);
            Assert.DoesNotContain("token=", row.HtmlBody!, StringComparison.Ordinal);
        }
        finally
        {
            await host.Smtp.RestartAsync();
        }

        await LinkTokenAsync(email, "");

        var plain = $"{Seed.Unique("plain")}@example.com";
        await using (var scope = App.Scope(out var db))
        {
            var now = App.Clock.GetUtcNow().UtcDateTime;
            db.OutboxMessages.Add(new OutboxMessage { To = plain, Subject = "Written before protection", TextBody = "Plain body of an old row", HtmlBody = "<p>Plain old html</p>", CreatedAt = now, NextAttemptAt = now });
            await db.SaveChangesAsync();
        }

        var old = await NoticeAsync(plain, "Written before protection");
        Assert.Contains("Plain body of an old row", old.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_Back_Office_password_forms_show_the_feedback_and_the_policy_page_the_least_strength()
    {
        var weak = System.Net.WebUtility.HtmlEncode(Tessera.Core.Credentials.ZxcvbnEstimator.Suggestions.AnotherWord);
        using var admin = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword)).StatusCode);
        var policy = await admin.GetStringAsync("/admin/password-policy");
        Assert.Contains("name=\"Policy.MinStrength\"", policy, StringComparison.Ordinal);

        var target = await Seed.UserAsync(App, UserType.BackOffice, Good, "Administrator");
        var page = await admin.GetStringAsync($"/admin/users/{target.Id}");
        var posted = await admin.PostAsync($"/admin/users/{target.Id}?handler=Password", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
            ["NewPassword"] = "Password1234!",
            ["ConfirmPassword"] = "Password1234!",
        }));
        var html = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.BadRequest, $"{(int)posted.StatusCode}: {html}");
        Assert.Contains("too easy to guess", html, StringComparison.Ordinal);
        Assert.Contains(weak, html, StringComparison.Ordinal);

        using var own = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(own, target.Username, Good)).StatusCode);
        var profile = await own.GetStringAsync("/profile");
        var changed = await own.PostAsync("/profile", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(profile),
            ["CurrentPassword"] = Good,
            ["NewPassword"] = "password123456",
            ["ConfirmPassword"] = "password123456",
        }));
        var mine = await changed.Content.ReadAsStringAsync();
        Assert.True(changed.StatusCode == HttpStatusCode.BadRequest, $"{(int)changed.StatusCode}: {mine}");
        Assert.Contains("too easy to guess", mine, StringComparison.Ordinal);
        Assert.Contains(weak, mine, StringComparison.Ordinal);
    }

    private async Task WaitForCountAsync(string email, string subject, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await CountAsync(email, subject) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} '{subject}' mails to {email}: {string.Join(", ", (await host.Smtp.MessagesAsync()).Where(m => m.To.Contains(email)).Select(m => m.Subject))}");
            await Task.Delay(200);
        }
    }
}
