using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.BackOffice.Pages;
using Tessera.Server.SignIn;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteSsoTests(SqliteSsoHost host) : SsoTests<SqliteSsoHost>(host);

public sealed class PostgresSsoTests(PostgresSsoHost host) : SsoTests<PostgresSsoHost>(host);

/// <summary>
/// BackOffice users sign in through a real OpenID Connect provider: an HttpClient that follows
/// redirects goes from Tessera's challenge to the provider and back, and the tests look at where it ends.
/// </summary>
public abstract class SsoTests<THost>(THost host) : IClassFixture<THost> where THost : SsoHost
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_BackOffice_SSO_user_with_the_providers_verified_email_signs_in_and_is_remembered()
    {
        var account = host.Account(SsoHost.SignsIn);
        var user = await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, account.Email);
        await Seed.UpdateUserAsync(App, user.Id, u => u.Status = UserStatus.Invited);

        var flow = await SignInAsync("test", account.Sub);
        Assert.True(flow.Path == "/" && flow.Status == HttpStatusCode.OK, flow.ToString());
        Assert.Contains(user.Username, flow.Html, StringComparison.Ordinal);
        Assert.True(flow.HasSession, flow.ToString());

        await using var scope = App.Scope(out var db);
        var login = await db.ExternalLogins.SingleAsync(l => l.UserId == user.Id);
        Assert.Equal(("test", account.Sub), (login.Provider, login.Subject));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.sso" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
        var stored = await db.Users.SingleAsync(u => u.Id == user.Id);
        Assert.Equal(UserStatus.Active, stored.Status);
        Assert.NotNull(stored.LastSignInAt);
    }

    [Fact]
    public async Task A_later_sign_in_matches_the_remembered_subject_even_after_the_email_changed_in_Tessera()
    {
        var account = host.Account(SsoHost.EmailChanges);
        var user = await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, account.Email);
        var first = await SignInAsync("test", account.Sub);
        Assert.True(first.Path == "/" && first.HasSession, first.ToString());

        await Seed.UpdateUserAsync(App, user.Id, u => u.SetEmail(Seed.Unique("renamed") + "@elsewhere.test"));
        var second = await SignInAsync("test", account.Sub);
        Assert.True(second.Path == "/" && second.Status == HttpStatusCode.OK && second.HasSession, second.ToString());
        Assert.Contains(user.Username, second.Html, StringComparison.Ordinal);

        await using var scope = App.Scope(out var db);
        Assert.Equal(2, await db.AuditEvents.CountAsync(a => a.Action == "signin.sso" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
        Assert.Equal(1, await db.ExternalLogins.CountAsync(l => l.UserId == user.Id));
    }

    [Fact]
    public async Task An_identity_that_matches_no_user_is_refused()
    {
        var account = host.Account(SsoHost.Unknown);
        var flow = await SignInAsync("test", account.Sub);
        AssertRefused(flow, SsoRefusal.UnknownIdentity);

        await using var scope = App.Scope(out var db);
        Assert.False(await db.Users.AnyAsync(u => u.NormalizedEmail == Usernames.Normalize(account.Email)));
        Assert.False(await db.ExternalLogins.AnyAsync(l => l.Subject == account.Sub));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "signin.sso" && a.Outcome == "failure" && a.TargetName == account.Email));
    }

    [Fact]
    public async Task An_unverified_email_is_refused_even_when_it_matches_an_SSO_user()
    {
        var account = host.Account(SsoHost.Unverified);
        var user = await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, account.Email);
        var flow = await SignInAsync("test", account.Sub);
        AssertRefused(flow, SsoRefusal.UnverifiedEmail);

        await using var scope = App.Scope(out var db);
        Assert.False(await db.ExternalLogins.AnyAsync(l => l.UserId == user.Id));
    }

    [Fact]
    public async Task With_auto_provisioning_an_unknown_identity_becomes_an_invited_BackOffice_SSO_user_without_roles()
    {
        var account = host.Account(SsoHost.Provisioned);
        var flow = await SignInAsync("auto", account.Sub);
        AssertRefused(flow, SsoRefusal.Provisioned);

        await using var scope = App.Scope(out var db);
        var user = await db.Users.Include(u => u.Roles).SingleAsync(u => u.NormalizedEmail == Usernames.Normalize(account.Email));
        Assert.Equal(UserType.BackOffice, user.Type);
        Assert.Equal(UserStatus.Invited, user.Status);
        Assert.Equal(CredentialMode.Sso, user.CredentialMode);
        Assert.Empty(user.Roles);
        Assert.Equal((account.GivenName, account.FamilyName), (user.FirstName, user.LastName));
        Assert.True(await db.ExternalLogins.AnyAsync(l => l.Provider == "auto" && l.Subject == account.Sub && l.UserId == user.Id));
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "user.created" && a.TargetId == user.Id.ToString()));

        // A second visit still waits for an administrator; no session, still invited.
        AssertRefused(await SignInAsync("auto", account.Sub), SsoRefusal.Provisioned);
        db.ChangeTracker.Clear();
        Assert.Equal(UserStatus.Invited, (await db.Users.SingleAsync(u => u.Id == user.Id)).Status);
    }

    [Fact]
    public async Task Auto_provisioning_refuses_an_email_that_reads_like_an_existing_users()
    {
        var account = host.Account(SsoHost.LookAlike);
        var existing = account.Email.Replace("look", "lo\u043Ek", StringComparison.Ordinal); // a Cyrillic о
        await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, existing);

        AssertRefused(await SignInAsync("auto", account.Sub), SsoRefusal.UnknownIdentity);

        await using var scope = App.Scope(out var db);
        Assert.False(await db.Users.AnyAsync(u => u.NormalizedEmail == Usernames.Normalize(account.Email)));
        Assert.True(await db.AuditEvents.AnyAsync(a => a.Action == "signin.sso" && a.Outcome == "failure" && a.Details!.Contains("confusable_email")));
    }

    [Theory]
    [InlineData(SsoHost.ApiUser, SsoRefusal.NotBackOffice)]
    [InlineData(SsoHost.PasswordUser, SsoRefusal.PasswordUser)]
    [InlineData(SsoHost.DisabledUser, SsoRefusal.Disabled)]
    public async Task API_users_password_users_and_disabled_users_with_the_verified_email_are_refused(string accountName, SsoRefusal expected)
    {
        var account = host.Account(accountName);
        var user = accountName switch
        {
            SsoHost.ApiUser => await Seed.UserAsync(App, UserType.Api, "Api-User-Secret-123456", CredentialMode.Password, account.Email),
            SsoHost.PasswordUser => await Seed.UserAsync(App, UserType.BackOffice, "Back-Office-Password-1", CredentialMode.Password, account.Email),
            _ => await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, account.Email),
        };
        if (accountName == SsoHost.DisabledUser)
        {
            await Seed.UpdateUserAsync(App, user.Id, u => u.Status = UserStatus.Disabled);
        }

        var flow = await SignInAsync("test", account.Sub);
        AssertRefused(flow, expected);

        await using var scope = App.Scope(out var db);
        Assert.False(await db.ExternalLogins.AnyAsync(l => l.UserId == user.Id));
        Assert.Null((await db.Users.SingleAsync(u => u.Id == user.Id)).LastSignInAt);
    }

    [Fact]
    public async Task The_sign_in_page_shows_a_button_per_configured_provider()
    {
        using var client = App.Client();
        var html = await client.GetStringAsync("/signin");
        Assert.Contains("Sign in with Test Provider", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/signin/sso/test?returnUrl=%2F\"", html, StringComparison.Ordinal);
        Assert.Contains("Sign in with auto", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/signin/sso/auto?returnUrl=%2F\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_login_hint_the_provider_asks_who_signs_in()
    {
        // The other tests pass only because the hint reaches the provider: without it, its form shows.
        var flow = await SignInAsync("test", loginHint: null);
        Assert.True(flow.Address.StartsWith(host.Provider.Authority + "/interaction/", StringComparison.Ordinal), flow.ToString());
        Assert.Contains("Sign in to the test provider", flow.Html, StringComparison.Ordinal);
        Assert.False(flow.HasSession);
    }

    [Fact]
    public async Task A_login_hint_longer_than_an_email_address_can_be_is_refused()
    {
        using var client = App.Client();
        var response = await client.GetAsync("/signin/sso/test?login_hint=" + new string('a', SingleSignOn.MaxLoginHintLength + 1));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {body}");
        Assert.Contains("invalid_login_hint", body, StringComparison.Ordinal);

        var longest = await client.GetAsync("/signin/sso/test?login_hint=" + new string('a', SingleSignOn.MaxLoginHintLength));
        Assert.Equal(HttpStatusCode.Redirect, longest.StatusCode);
        Assert.StartsWith(host.Provider.Authority, longest.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_provider_name_lands_on_the_sign_in_page_with_the_failure_sentence()
    {
        var flow = await SignInAsync("nosuchprovider", "whoever");
        AssertRefused(flow, SsoRefusal.Failed);
    }

    [Fact]
    public async Task An_SSO_user_whom_the_policy_requires_MFA_of_is_asked_for_Tesseras_own_only_when_the_provider_is_not_trusted()
    {
        var account = host.Account(SsoHost.Privileged);
        var user = await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, account.Email, "Administrator");
        using var api = await Seed.AdminApiAsync(App);
        try
        {
            await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", new { required = "privileged", requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = true }), HttpStatusCode.OK);
            var trusted = await SignInAsync("test", account.Sub);
            Assert.True(trusted.Path == "/" && trusted.Status == HttpStatusCode.OK && trusted.HasSession, trusted.ToString());

            await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", new { required = "privileged", requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = false }), HttpStatusCode.OK);
            var untrusted = await SignInAsync("test", account.Sub);
            Assert.True(untrusted.Path == "/profile/mfa" && untrusted.Status == HttpStatusCode.OK && !untrusted.HasSession, untrusted.ToString());
            Assert.Contains("id=\"enrol-required\"", untrusted.Html, StringComparison.Ordinal);
        }
        finally
        {
            await Expect.ResponseAsync(await api.PutAsJsonAsync("/api/v1/mfa-policy", new { required = "none", requiredRoles = Array.Empty<string>(), stepUpMinutes = 15, trustProviderMfa = true }), HttpStatusCode.OK);
        }

        await using var scope = App.Scope(out var db);
        Assert.Equal(2, await db.AuditEvents.CountAsync(a => a.Action == "signin.sso" && a.Outcome == "success" && a.TargetId == user.Id.ToString()));
    }

    private static void AssertRefused(SsoFlow flow, SsoRefusal refusal)
    {
        Assert.True(flow.Path == "/signin" && flow.Query == "?sso=" + refusal && flow.Status == HttpStatusCode.OK, flow.ToString());
        Assert.Contains("id=\"signin-error\"", flow.Html, StringComparison.Ordinal);
        Assert.False(flow.HasSession, flow.ToString());
    }

    /// <summary>Follows the whole round trip from GET /signin/sso/{provider} in a fresh cookie container.</summary>
    private async Task<SsoFlow> SignInAsync(string provider, string? loginHint)
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { AllowAutoRedirect = true, UseCookies = true, CookieContainer = cookies };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(App.BaseUrl) };
        var start = $"/signin/sso/{provider}" + (loginHint is null ? "" : "?login_hint=" + Uri.EscapeDataString(loginHint));
        using var response = await client.GetAsync(start);
        var html = await response.Content.ReadAsStringAsync();
        var session = cookies.GetCookies(new Uri(App.BaseUrl)).Any(c => c.Name == "tessera.session" && !c.Expired && c.Value.Length > 0);
        return new SsoFlow(response.RequestMessage!.RequestUri!, response.StatusCode, html, session, host.Provider.Output);
    }

    private sealed record SsoFlow(Uri Final, HttpStatusCode Status, string Html, bool HasSession, string ProviderOutput)
    {
        public string Address => Final.ToString();

        public string Path => Final.AbsolutePath;

        public string Query => Final.Query;

        public override string ToString()
            => $"ended at {Final} with {(int)Status}, session cookie: {HasSession}\n--- page ---\n{(Html.Length > 3000 ? Html[..3000] : Html)}\n--- provider output ---\n{ProviderOutput}";
    }
}

/// <summary>
/// One OpenID Connect provider and one Kestrel-served Tessera per test class, per database
/// provider. Tessera knows the provider twice: <c>test</c> (refuses unknown identities) and
/// <c>auto</c> (auto-provisions them), two clients of the same provider.
/// </summary>
public abstract class SsoHost(string provider) : IAsyncLifetime
{
    public const string SignsIn = "signs-in";
    public const string EmailChanges = "email-changes";
    public const string Unknown = "unknown";
    public const string Unverified = "unverified";
    public const string Provisioned = "provisioned";
    public const string ApiUser = "api-user";
    public const string PasswordUser = "password-user";
    public const string DisabledUser = "disabled-user";
    public const string LookAlike = "look-alike";
    public const string Privileged = "privileged";

    private const string Secret = "Sso-Client-Secret-1234";

    // Emails unique per run, so that the accounts never collide with anything else in the database.
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    public TesseraApp App { get; private set; } = null!;

    public OidcProviderProcess Provider { get; private set; } = null!;

    /// <summary>The provider's account for one test: its subject is the name, its email unique to this fixture.</summary>
    public OidcAccount Account(string name) => Accounts.Single(a => a.Sub == name);

    private IEnumerable<OidcAccount> Accounts =>
        new[] { SignsIn, EmailChanges, Unknown, Unverified, Provisioned, ApiUser, PasswordUser, DisabledUser, LookAlike, Privileged }
            .Select(name => new OidcAccount(name, $"{name}.{_run}@sso.test", EmailVerified: name != Unverified, "Given-" + name, "Family-" + name));

    public async Task InitializeAsync()
    {
        // TesseraApp picks its port in the constructor and reads its settings only when it starts:
        // the provider needs the port for its redirect URIs, Tessera needs the provider's authority.
        var settings = new Dictionary<string, string?>();
        App = new TesseraApp(TestDatabase.Create(provider), settings, kestrel: true);
        Provider = await OidcProviderProcess.StartAsync(new OidcProviderConfig(
            [
                new OidcClient("tessera-test", Secret, [$"{App.BaseUrl}/signin/sso/test/callback"]),
                new OidcClient("tessera-auto", Secret, [$"{App.BaseUrl}/signin/sso/auto/callback"]),
            ],
            [.. Accounts]));

        foreach (var (name, client, auto) in new[] { ("test", "tessera-test", false), ("auto", "tessera-auto", true) })
        {
            var prefix = $"Tessera:Sso:Providers:{name}:";
            settings[prefix + "Authority"] = Provider.Authority;
            settings[prefix + "ClientId"] = client;
            settings[prefix + "ClientSecret"] = Secret;
            settings[prefix + "RequireHttpsMetadata"] = "false";
            settings[prefix + "AutoProvision"] = auto ? "true" : "false";
        }

        settings["Tessera:Sso:Providers:test:DisplayName"] = "Test Provider";
        App.Started();
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
            await App.Database.DisposeAsync();
        }

        if (Provider is not null)
        {
            await Provider.DisposeAsync();
        }
    }
}

public sealed class SqliteSsoHost() : SsoHost("sqlite");

public sealed class PostgresSsoHost() : SsoHost("postgres");

/// <summary>The Google and Entra presets resolve their well-known authorities; an explicit Authority wins.</summary>
public sealed class SsoProviderOptionsTests
{
    [Theory]
    [InlineData("Google", null, null, "https://accounts.google.com", "Google")]
    [InlineData("google", null, null, "https://accounts.google.com", "Google")]
    [InlineData("Entra", "contoso-tenant-id", null, "https://login.microsoftonline.com/contoso-tenant-id/v2.0", "Microsoft")]
    [InlineData("Entra", "ignored", "https://login.microsoftonline.com/organizations/v2.0", "https://login.microsoftonline.com/organizations/v2.0", "Microsoft")]
    [InlineData("Oidc", null, "https://idp.example.test", "https://idp.example.test", "corp")]
    public void A_preset_resolves_its_authority_and_display_name(string kind, string? tenant, string? authority, string expectedAuthority, string expectedName)
    {
        var options = new SsoProviderOptions { Kind = kind, TenantId = tenant, Authority = authority };
        Assert.Equal(expectedAuthority, options.ResolvedAuthority);
        Assert.Equal(expectedName, options.ResolvedDisplayName("corp"));
    }
}
