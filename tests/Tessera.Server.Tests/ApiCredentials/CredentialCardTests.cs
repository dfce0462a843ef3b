using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ApiCredentials;

public sealed class SqliteCredentialCardTests(SqliteHost host) : CredentialCardTests<SqliteHost>(host);

public sealed class PostgresCredentialCardTests(PostgresHost host) : CredentialCardTests<PostgresHost>(host);

/// <summary>
/// The Credentials card on an API user's page, over HTTP as a browser sends it: a generated secret is in the answer
/// to the POST that made it and nowhere else, public keys are taken by PEM with refusals at the field, and only a
/// user manager the delegation rules allow gets controls or has a POST carried out.
/// </summary>
public abstract partial class CredentialCardTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Credential-Card-Password-1";
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_secret_added_on_the_card_is_in_the_POST_answer_only_and_authenticates()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        using var browser = await SignedInAsync(BuiltInRoles.Administrator);

        var empty = await browser.GetStringAsync($"/admin/users/{api.Id}");
        Assert.Contains("id=\"credentials-card\"", empty, StringComparison.Ordinal);
        Assert.Contains("id=\"no-credentials\"", empty, StringComparison.Ordinal);
        Assert.Contains("id=\"credential-form\"", empty, StringComparison.Ordinal);
        // No password, invitation or password-policy hints for a system.
        foreach (var absent in new[] { "resend-invitation", "password-form", "newPassword", "invitation" })
        {
            Assert.DoesNotContain(absent, empty, StringComparison.OrdinalIgnoreCase);
        }

        var posted = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "secret", ["CredentialName"] = "erp-2027", ["CredentialExpires"] = "" }, empty);
        var answer = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.OK, $"{(int)posted.StatusCode}: {answer}");
        Assert.Contains("no-store", posted.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        var secret = SecretPattern().Match(answer) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("No secret in:\n" + answer);
        Assert.Matches("^tsr_[A-Za-z0-9_-]{43}$", secret);
        Assert.Contains("will not be shown again", answer, StringComparison.Ordinal);

        // The secret works at the token endpoint, and from here on nothing shows it: not the page, not the API, not the store.
        Assert.True(await DelegationArrange.SecretWorksAsync(App, api.Username, secret));
        var again = await browser.GetStringAsync($"/admin/users/{api.Id}");
        Assert.Contains("data-name=\"erp-2027\"", again, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, again, StringComparison.Ordinal);
        Assert.DoesNotContain("new-secret-value", again, StringComparison.Ordinal);
        using var admin = await Seed.AdminApiAsync(App);
        var listed = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{api.Id}/credentials"), HttpStatusCode.OK);
        Assert.DoesNotContain(secret, listed.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("\"secret\":", listed.GetRawText(), StringComparison.Ordinal);
        await using var scope = App.Scope(out var db);
        var stored = await db.ApiCredentials.SingleAsync(c => c.UserId == api.Id);
        Assert.DoesNotContain(secret, stored.SecretHash!, StringComparison.Ordinal);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "credential.created" && a.TargetId == api.Id.ToString()));
    }

    [Fact]
    public async Task A_POST_without_the_antiforgery_token_is_refused_and_adds_nothing()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        using var browser = await SignedInAsync(BuiltInRoles.Administrator);

        var posted = await browser.PostAsync($"/admin/users/{api.Id}?handler=AddCredential",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["CredentialType"] = "secret", ["CredentialName"] = "forged" }));
        var body = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.BadRequest, $"{(int)posted.StatusCode}: {body}");
        Assert.DoesNotContain("tsr_", body, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(api.Id));
    }

    [Fact]
    public async Task A_viewer_sees_the_list_without_controls_and_a_POST_of_theirs_is_refused()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        using var admin = await Seed.AdminApiAsync(App);
        await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{api.Id}/credentials", new { name = "listed", type = "secret" }), HttpStatusCode.Created);
        var (_, viewers) = await DelegationArrange.RoleAsync(admin, "viewers", Privileges.ViewUsers);
        using var browser = await SignedInAsync(viewers);

        var page = await browser.GetStringAsync($"/admin/users/{api.Id}");
        Assert.Contains("data-name=\"listed\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("credential-form", page, StringComparison.Ordinal);
        Assert.DoesNotContain("delete-credential", page, StringComparison.Ordinal);

        var added = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "secret", ["CredentialName"] = "sneaky" }, page);
        Assert.Equal(HttpStatusCode.Forbidden, added.StatusCode);
        Assert.DoesNotContain("tsr_", await added.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var id = (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{api.Id}/credentials"), HttpStatusCode.OK)).GetProperty("items")[0].GetProperty("id").GetString()!;
        var deleted = await PostAsync(browser, api.Id, "DeleteCredential", new() { ["CredentialId"] = id }, page);
        Assert.Equal(HttpStatusCode.Forbidden, deleted.StatusCode);
        Assert.Equal(1, await CountAsync(api.Id));
    }

    [Fact]
    public async Task A_user_manager_outranked_by_the_API_user_gets_no_controls_and_the_refusal_is_shown()
    {
        var target = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System, BuiltInRoles.Administrator);
        using var admin = await Seed.AdminApiAsync(App);
        var (_, managers) = await DelegationArrange.RoleAsync(admin, "managers", Privileges.ViewUsers, Privileges.ManageUsers);
        using var browser = await SignedInAsync(managers);

        var page = await browser.GetStringAsync($"/admin/users/{target.Id}");
        Assert.Contains("id=\"outranks-notice\"", page, StringComparison.Ordinal);
        Assert.Contains("id=\"credentials-card\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("credential-form", page, StringComparison.Ordinal);

        // Sent anyway (a page loaded before the account outranked them, say): the delegation rules refuse it, the page says why.
        var posted = await PostAsync(browser, target.Id, "AddCredential", new() { ["CredentialType"] = "secret", ["CredentialName"] = "takeover" }, page);
        var body = await posted.Content.ReadAsStringAsync();
        Assert.True(posted.StatusCode == HttpStatusCode.Forbidden, $"{(int)posted.StatusCode}: {body}");
        Assert.Contains("error-summary", body, StringComparison.Ordinal);
        Assert.DoesNotContain("tsr_", body, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(target.Id));
    }

    [Fact]
    public async Task A_public_key_is_added_by_PEM_and_a_private_key_is_refused_at_the_field()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        using var browser = await SignedInAsync(BuiltInRoles.Administrator);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var refused = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "public_key", ["CredentialName"] = "leaked", ["Pem"] = key.ExportPkcs8PrivateKeyPem() });
        var refusal = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{(int)refused.StatusCode}: {refusal}");
        Assert.Matches("id=\"pem-error\"[^>]*>[^<]*private key", refusal);
        Assert.Contains("aria-invalid=\"true\" aria-describedby=\"credential-pem-hint pem-error\"", refusal, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(api.Id));

        var past = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "secret", ["CredentialName"] = "late", ["CredentialExpires"] = "2001-01-01" });
        Assert.Matches("id=\"credentialExpires-error\"[^>]*>[^<]*future", await past.Content.ReadAsStringAsync());

        var pem = key.ExportSubjectPublicKeyInfoPem();
        var added = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "public_key", ["CredentialName"] = "erp-key", ["Pem"] = pem, ["CredentialExpires"] = "2099-06-30" });
        var answer = await added.Content.ReadAsStringAsync();
        Assert.True(added.StatusCode == HttpStatusCode.OK, $"{(int)added.StatusCode}: {answer}");
        Assert.Contains("id=\"new-key\"", answer, StringComparison.Ordinal);
        Assert.Contains("EC P-256", answer, StringComparison.Ordinal);
        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.ApiCredentials.SingleAsync(c => c.UserId == api.Id);
            Assert.Equal(ApiCredentialType.PublicKey, stored.Type);
            Assert.Equal(new DateTime(2099, 6, 30, 0, 0, 0, DateTimeKind.Utc), stored.ExpiresAt);
            Assert.Contains(stored.Thumbprint![..12], answer, StringComparison.Ordinal);
        }

        var twice = await PostAsync(browser, api.Id, "AddCredential", new() { ["CredentialType"] = "public_key", ["CredentialName"] = "erp-key-2", ["Pem"] = pem });
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        Assert.Contains("already holds this key", await twice.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync(api.Id));

        // A PEM is lines by its format: the API takes its line breaks in "pem" too.
        using var other = RSA.Create(2048);
        using var admin = await Seed.AdminApiAsync(App);
        await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{api.Id}/credentials", new { name = "api-pem", type = "public_key", pem = other.ExportSubjectPublicKeyInfoPem() }), HttpStatusCode.Created);
    }

    [Fact]
    public async Task The_list_marks_expired_and_soon_expiring_credentials_in_words_and_a_delete_removes_one()
    {
        var api = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        var now = App.Clock.GetUtcNow().UtcDateTime;
        await using (var scope = App.Scope(out var db))
        {
            db.ApiCredentials.AddRange(
                Stored(api.Id, "old-one", now.AddDays(-1)),
                Stored(api.Id, "soon-one", now.AddDays(5).AddHours(-1)),
                Stored(api.Id, "later-one", now.AddDays(60)));
            await db.SaveChangesAsync();
        }

        using var browser = await SignedInAsync(BuiltInRoles.Administrator);
        var page = await browser.GetStringAsync($"/admin/users/{api.Id}");
        Assert.Matches("class=\"expired\"[^>]*>\\s*<th[^>]*>old-one</th>[\\s\\S]*?Expired", page);
        Assert.Matches("class=\"expiring-soon\"[^>]*>\\s*<th[^>]*>soon-one</th>[\\s\\S]*?Expires in 5 days", page);
        Assert.Matches("data-name=\"later-one\">\\s*<th", page);
        Assert.Contains("never", page, StringComparison.Ordinal);

        Guid old;
        await using (var scope = App.Scope(out var db))
        {
            old = await db.ApiCredentials.Where(c => c.UserId == api.Id && c.Name == "old-one").Select(c => c.Id).SingleAsync();
        }

        var deleted = await PostAsync(browser, api.Id, "DeleteCredential", new() { ["CredentialId"] = old.ToString() }, page);
        Assert.Equal(HttpStatusCode.Redirect, deleted.StatusCode);
        var after = await browser.GetStringAsync($"/admin/users/{api.Id}");
        Assert.DoesNotContain("old-one", after.Replace("The credential old-one was deleted", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(2, await CountAsync(api.Id));
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "credential.deleted" && a.TargetId == api.Id.ToString()));
        }
    }

    [Fact]
    public async Task The_create_page_sends_an_API_user_without_a_secret_to_its_card()
    {
        using var browser = await SignedInAsync(BuiltInRoles.Administrator);
        var form = await browser.GetStringAsync("/admin/users/new");
        var username = Seed.Unique("erp");
        var created = await browser.PostAsync("/admin/users/new", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(form),
            ["Type"] = "api",
            ["Username"] = username,
            ["Email"] = $"{username}@example.test",
            ["CredentialMode"] = "password",
            ["Roles"] = BuiltInRoles.System,
        }));
        Assert.True(created.StatusCode == HttpStatusCode.Redirect, $"{(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        var page = await browser.GetStringAsync(created.Headers.Location!.OriginalString);
        Assert.Contains("Add its first credential", page, StringComparison.Ordinal);
        Assert.Contains("id=\"no-credentials\"", page, StringComparison.Ordinal);
        Assert.Contains("id=\"credential-form\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("resend-invitation", page, StringComparison.Ordinal);
    }

    private static ApiCredential Stored(Guid userId, string name, DateTime expiresAt) => new()
    {
        UserId = userId, Name = name, NormalizedName = ApiCredentialRules.NormalizeName(name), Type = ApiCredentialType.Secret,
        SecretHash = ApiCredential.Sha256Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), CreatedAt = expiresAt.AddDays(-90), ExpiresAt = expiresAt,
    };

    /// <summary>A Back Office user holding these roles, signed in.</summary>
    private async Task<HttpClient> SignedInAsync(params string[] roles)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password, roles);
        var browser = App.Client(cookies: true);
        var signedIn = await Seed.SignInAsync(browser, user.Username, Password);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return browser;
    }

    /// <summary>A form of the user page, posted as the browser does: with the page's antiforgery token.</summary>
    private static async Task<HttpResponseMessage> PostAsync(HttpClient browser, Guid userId, string handler, Dictionary<string, string> form, string? page = null)
    {
        page ??= await browser.GetStringAsync($"/admin/users/{userId}");
        form["__RequestVerificationToken"] = Seed.AntiforgeryToken(page);
        return await browser.PostAsync($"/admin/users/{userId}?handler={handler}", new FormUrlEncodedContent(form));
    }

    private async Task<int> CountAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        return await db.ApiCredentials.CountAsync(c => c.UserId == userId);
    }

    [GeneratedRegex("id=\"new-secret-value\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex SecretPattern();
}
