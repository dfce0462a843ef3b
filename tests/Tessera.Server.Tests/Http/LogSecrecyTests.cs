using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Http;

/// <summary>
/// No log line, at any level, holds a secret. A Kestrel-served host logs every category at Trace into
/// <see cref="CapturedLogs"/> while it issues tokens (client credentials, authorization code), validates,
/// introspects and revokes them, sends invitations and reset mail, sets passwords through the links, the
/// page and the API, signs people in with a password and through SSO. Then none of the secrets used may
/// appear in what was captured.
/// </summary>
public sealed partial class LogSecrecyTests : IAsyncLifetime
{
    private const string SsoSecret = "Sso-Client-Secret-Logged-9921";
    private const string SsoAccount = "log-secrecy";

    private readonly List<(string What, string Value)> _secrets = [];
    private readonly string _ssoEmail = $"sso.{Guid.NewGuid():N}@sso.test";
    private SmtpSinkProcess _smtp = null!;
    private OidcProviderProcess _provider = null!;

    // Properties, not fields: the fixture's lifetime (IAsyncLifetime) disposes them.
    private CapturedLogs Logs { get; } = new();

    private TesseraApp App { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _smtp = await SmtpSinkProcess.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Tessera:Mail:Smtp:Host"] = _smtp.SmtpHost,
            ["Tessera:Mail:Smtp:Port"] = _smtp.SmtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tessera:Mail:Smtp:Security"] = "None",
            ["Tessera:Mail:PollSeconds"] = "1",
        };
        App = new TesseraApp(TestDatabase.Create("sqlite"), settings, kestrel: true)
        {
            // Only the capture: a console at Trace would slow the test down and flood its output.
            Logging = logging =>
            {
                logging.ClearProviders();
                Logs.Everything(logging);
            },
        };
        _provider = await OidcProviderProcess.StartAsync(new OidcProviderConfig(
            [new OidcClient("tessera-log", SsoSecret, [$"{App.BaseUrl}/signin/sso/test/callback"])],
            [new OidcAccount(SsoAccount, _ssoEmail, EmailVerified: true, "Log", "Secrecy")]));
        settings["Tessera:Sso:Providers:test:Authority"] = _provider.Authority;
        settings["Tessera:Sso:Providers:test:ClientId"] = "tessera-log";
        settings["Tessera:Sso:Providers:test:ClientSecret"] = SsoSecret;
        settings["Tessera:Sso:Providers:test:RequireHttpsMetadata"] = "false";
        App.Started();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
        await _provider.DisposeAsync();
        await _smtp.DisposeAsync();
    }

    [Fact]
    public async Task Tokens_codes_client_secrets_passwords_and_link_tokens_never_reach_the_logs_even_at_Trace()
    {
        Secret("the bootstrap API client's secret", TesseraApp.ApiClientSecret);
        Secret("the bootstrap administrator's password", TesseraApp.AdminPassword);
        Secret("the SSO client secret", SsoSecret);
        using var client = App.Client();

        // Client credentials, both ways of sending the secret; the tokens used, introspected and revoked.
        var basic = Secret("an access token (client_secret_basic)", await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret, basic: true));
        var posted = Secret("an access token (client_secret_post)", await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret, basic: false));
        using var api = Seed.WithBearer(App, basic);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
        await client.GetAsync("/api/v1/me?access_token=" + posted);
        Assert.True((await ClientPostAsync(client, "/connect/introspect", new() { ["token"] = posted })).IsSuccessStatusCode);
        Assert.True((await ClientPostAsync(client, "/connect/revoke", new() { ["token"] = posted })).IsSuccessStatusCode);

        // An invitation; its link opens the page, whose form sets the password.
        var username = Seed.Unique("logged");
        var email = $"{username}@example.com";
        var created = await api.PostAsJsonAsync("/api/v1/users", new { username, email, type = "backoffice", roles = new[] { "Administrator" } });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var invitation = Secret("an invitation link's token", await LinkTokenAsync(email, "invit"));
        var invited = Secret("a password set through an invitation", "Invited-Password-Long-41");
        await SetThroughThePageAsync(invitation, invited);

        // A forgotten password: the reset link, redeemed through the API.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/v1/password/forgot", new { email })).StatusCode);
        var reset = Secret("a reset link's token", await LinkTokenAsync(email, "reset"));
        var afterReset = Secret("a password set through a reset link", "Reset-Password-Long-52");
        var redeemed = await client.PostAsJsonAsync("/api/v1/password/reset", new { token = reset, newPassword = afterReset, confirmPassword = afterReset });
        Assert.True(redeemed.StatusCode == HttpStatusCode.NoContent, await redeemed.Content.ReadAsStringAsync());
        using (var used = App.Client())
        {
            await used.GetAsync("/set-password?token=" + reset);
        }

        // An administrator sets the password; the user signs in with it on the page and gets a code and a token.
        var byAdmin = Secret("a password set by an administrator", "Admin-Set-Password-Long-63");
        var set = await api.PostAsJsonAsync($"/api/v1/users/{id}/password", new { newPassword = byAdmin, confirmPassword = byAdmin });
        Assert.True(set.StatusCode == HttpStatusCode.NoContent, await set.Content.ReadAsStringAsync());
        using (var browser = App.Client(cookies: true))
        {
            Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, username, byAdmin)).StatusCode);
            var flow = new AuthorizationCodeClient();
            Secret("a PKCE code verifier", flow.Verifier);
            var code = Secret("an authorization code", flow.CodeFrom(await browser.GetAsync(flow.AuthorizeUrl())));
            var response = await flow.RedeemAsync(client, code);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            var token = Secret("an access token (authorization code)", JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!);
            using var user = Seed.WithBearer(App, token);
            Assert.Equal(HttpStatusCode.OK, (await user.GetAsync("/api/v1/me")).StatusCode);
        }

        using (var admin = App.Client(cookies: true))
        {
            Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(admin, TesseraApp.AdminUsername, TesseraApp.AdminPassword)).StatusCode);
        }

        // SSO: the provider's code comes back in the callback's query.
        await Seed.UserAsync(App, UserType.BackOffice, null, CredentialMode.Sso, _ssoEmail);
        Secret("an SSO authorization code", await SsoSignInAsync());
        await App.AuditWrittenAsync();

        // The capture saw the traffic at its most verbose, so its silence about secrets means something.
        var text = Logs.Text;
        Assert.True(Logs.Count > 500, $"only {Logs.Count} entries were captured");
        Assert.Contains("Request starting", text, StringComparison.Ordinal);
        Assert.Contains("OpenIddict", text, StringComparison.Ordinal);
        Assert.Contains("/set-password", text, StringComparison.Ordinal);

        var leaks = _secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal))
            .Select(s => $"{s.What} ({s.Value}) appears in:\n  " + string.Join("\n  ", Logs.EntriesWith(s.Value).Take(5)))
            .ToList();
        Assert.True(leaks.Count == 0, string.Join("\n\n", leaks));
    }

    private string Secret(string what, string value)
    {
        Assert.False(string.IsNullOrEmpty(value), what);
        _secrets.Add((what, value));
        return value;
    }

    private static async Task<HttpResponseMessage> ClientPostAsync(HttpClient client, string path, Dictionary<string, string> form)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) };
        var raw = Uri.EscapeDataString(TesseraApp.ApiClientId) + ":" + Uri.EscapeDataString(TesseraApp.ApiClientSecret);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(raw)));
        return await client.SendAsync(request);
    }

    private async Task<string> LinkTokenAsync(string email, string subjectContains)
    {
        var mail = await _smtp.WaitForMessageAsync(m => m.To.Contains(email) && m.Subject.Contains(subjectContains, StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(20));
        var match = LinkToken().Match(mail.Text);
        Assert.True(match.Success, mail.Text);
        return match.Groups[1].Value;
    }

    /// <summary>What a browser does with a link: opens the page, then posts its form back to the same address.</summary>
    private async Task SetThroughThePageAsync(string token, string password)
    {
        using var browser = App.Client(cookies: true);
        var page = await browser.GetStringAsync("/set-password?token=" + token);
        var response = await browser.PostAsync("/set-password?token=" + token, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = token,
            ["NewPassword"] = password,
            ["ConfirmPassword"] = password,
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK && html.Contains("Password set", StringComparison.Ordinal), $"{(int)response.StatusCode} {html}");
    }

    /// <summary>Follows the SSO redirects by hand, to read the provider's code off the callback; returns it.</summary>
    private async Task<string> SsoSignInAsync()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler);
        var next = new Uri($"{App.BaseUrl}/signin/sso/test?login_hint={SsoAccount}");
        string? code = null;
        for (var hop = 0; hop < 15; hop++)
        {
            using var response = await browser.GetAsync(next);
            if (next.AbsolutePath == "/signin/sso/test/callback")
            {
                code = QueryHelpers.ParseQuery(next.Query)["code"].ToString();
            }

            if (response.StatusCode is not (HttpStatusCode.Redirect or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.RedirectKeepVerb))
            {
                Assert.True(next.AbsolutePath == "/" && response.StatusCode == HttpStatusCode.OK, $"SSO ended at {next} with {(int)response.StatusCode}\n{_provider.Output}");
                break;
            }

            next = new Uri(next, response.Headers.Location!);
        }

        Assert.False(string.IsNullOrEmpty(code), "the SSO callback carried no code");
        return code!;
    }

    [GeneratedRegex(@"/set-password\?token=([A-Za-z0-9_\-]+)")]
    private static partial Regex LinkToken();
}

/// <summary>What <see cref="Server.Http.LogRedaction"/> takes for a secret, and what it leaves alone.</summary>
public sealed class LogRedactionTests
{
    [Theory]
    [InlineData("Request starting HTTP/1.1 GET http://h/set-password?expired=true&token=Zm9vYmFyYmF6cXV4 - - -", "Zm9vYmFyYmF6cXV4")]
    [InlineData("Request starting HTTP/1.1 GET http://h/api/v1/me?ACCESS_TOKEN=abc.def.ghi&x=1", "abc.def.ghi")]
    [InlineData("/signin?returnUrl=%2Fset-password%3Ftoken%3DZm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4")]
    [InlineData("MessageReceived: '?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz'.", "SplxlOBeZQQYbYS6WxSbIA")]
    [InlineData("{\n  \"code_verifier\": \"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\"\n}", "dBjftJeZ4CVP")]
    [InlineData("{\"client_secret\":\"s3cr\\\"et\"}", "s3cr")]
    [InlineData("Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA-opaque", "2YotnFZFEjr1zCsicMWpAA")]
    [InlineData("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l")]
    [InlineData("The token 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln' was validated", "eyJzdWIiOiIxIn0")]
    [InlineData("created: eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn.", "Y2lwaGVy")]
    public void Secret_shaped_parts_of_a_log_text_are_redacted(string text, string secret)
    {
        var redacted = Server.Http.LogRedaction.Redact(text);
        Assert.DoesNotContain(secret, redacted, StringComparison.Ordinal);
        Assert.Contains(Server.Http.LogRedaction.Redacted, redacted, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AuthenticationScheme: Tessera.Bearer was successfully authenticated.")]
    [InlineData("Request starting HTTP/1.1 GET http://h/api/v1/users?q=ab&sort=createdAt&cursor=WyJhIl0 - - -")]
    [InlineData("Executed endpoint 'HTTP: POST /connect/token'")]
    public void Text_without_secrets_is_left_as_it_is(string text)
        => Assert.Same(text, Server.Http.LogRedaction.Redact(text));
}
