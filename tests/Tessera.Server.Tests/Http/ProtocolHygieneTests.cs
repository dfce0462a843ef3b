using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Http;

/// <summary>
/// Protocol hygiene: a bearer token counts only in the Authorization header; the discovery document comes
/// from Tessera:PublicUrl, never from the request's Host header; with an https PublicUrl every response
/// carries HSTS and every cookie is Secure. Served by Kestrel, so the Host header and the cookies are real.
/// </summary>
public sealed class ProtocolHygieneTests
{
    [Fact]
    public async Task A_bearer_token_counts_only_in_the_Authorization_header()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, kestrel: true).Started();
        using var anonymous = app.Client();
        var token = await Seed.TokenAsync(anonymous, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        using (var header = Seed.WithBearer(app, token))
        {
            Assert.Equal(HttpStatusCode.OK, (await header.GetAsync("/api/v1/me")).StatusCode);
        }

        using var query = await anonymous.GetAsync("/api/v1/me?access_token=" + Uri.EscapeDataString(token));
        Assert.True(query.StatusCode == HttpStatusCode.Unauthorized, $"?access_token= got {(int)query.StatusCode}: {await query.Content.ReadAsStringAsync()}");

        // An endpoint without a body of its own, so that a form reaches the authentication.
        using var form = await anonymous.PostAsync($"/api/v1/users/{Guid.NewGuid()}/unlock",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = token }));
        Assert.True(form.StatusCode == HttpStatusCode.Unauthorized, $"a form access_token got {(int)form.StatusCode}: {await form.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData("http://tessera.example")]
    [InlineData("http://tessera.example/iam/")]
    public async Task The_discovery_document_names_the_endpoints_under_PublicUrl_whatever_the_Host_header_says(string publicUrl)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:PublicUrl"] = publicUrl }, kestrel: true).Started();
        using var client = app.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.example";
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        Assert.DoesNotContain("evil.example", body, StringComparison.OrdinalIgnoreCase);

        var issuer = publicUrl.TrimEnd('/') + "/";
        var document = JsonDocument.Parse(body).RootElement;
        Assert.Equal(issuer, document.GetProperty("issuer").GetString());
        Assert.Equal(issuer + "connect/token", document.GetProperty("token_endpoint").GetString());
        Assert.Equal(issuer + "connect/authorize", document.GetProperty("authorization_endpoint").GetString());
        Assert.Equal(issuer + "connect/introspect", document.GetProperty("introspection_endpoint").GetString());
        Assert.Equal(issuer + "connect/revoke", document.GetProperty("revocation_endpoint").GetString());
        Assert.Equal(issuer + ".well-known/jwks", document.GetProperty("jwks_uri").GetString());
        var addresses = document.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String && p.Value.GetString()!.Contains("://", StringComparison.Ordinal)).ToList();
        Assert.All(addresses, p => Assert.StartsWith(issuer, p.Value.GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Behind_a_TLS_terminating_trusted_proxy_an_https_PublicUrl_gets_HSTS_and_only_Secure_cookies()
    {
        await using var provider = await OidcProviderProcess.StartAsync(new OidcProviderConfig(
            [new OidcClient("tessera-https", "Sso-Client-Secret-1234", ["https://tessera.example/signin/sso/test/callback"])], []));
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?>
        {
            ["Tessera:PublicUrl"] = "https://tessera.example",
            [Server.Http.TrustedProxies.Setting] = "127.0.0.1",
            ["Tessera:Sso:Providers:test:Authority"] = provider.Authority,
            ["Tessera:Sso:Providers:test:ClientId"] = "tessera-https",
            ["Tessera:Sso:Providers:test:ClientSecret"] = "Sso-Client-Secret-1234",
            ["Tessera:Sso:Providers:test:RequireHttpsMetadata"] = "false",
        }, kestrel: true).Started();

        foreach (var proxied in new[] { true, false })
        {
            // Through the proxy (X-Forwarded-Proto: https), and straight to Kestrel over http as a proxy
            // not yet named as trusted would arrive: the browser is on https either way.
            var browser = new CookieJar(app, proxied);
            var cookies = await browser.WalkTheBackOfficeAsync();
            Assert.Contains("tessera.session", cookies.Keys);
            Assert.Contains(cookies.Keys, c => c.StartsWith(".AspNetCore.Antiforgery", StringComparison.Ordinal));
            Assert.Contains(cookies.Keys, c => c.StartsWith(".AspNetCore.Mvc.CookieTempDataProvider", StringComparison.Ordinal));
            Assert.Contains(cookies.Keys, c => c.StartsWith(".AspNetCore.Correlation", StringComparison.Ordinal));
            Assert.Contains(cookies.Keys, c => c.StartsWith(".AspNetCore.OpenIdConnect.Nonce", StringComparison.Ordinal));
            Assert.All(cookies, c => Assert.True(c.Value.Contains("; secure", StringComparison.OrdinalIgnoreCase), $"proxied: {proxied}: {c.Value}"));
            Assert.All(browser.Responses, r => Assert.True(
                r.Headers.TryGetValues("Strict-Transport-Security", out var hsts) && hsts.Single() == Server.Http.TransportSecurity.HstsValue,
                $"proxied: {proxied}: {r.RequestMessage!.RequestUri} has no HSTS"));
        }
    }

    [Fact]
    public async Task An_http_PublicUrl_sends_no_HSTS_and_its_cookies_work_over_plain_http()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, kestrel: true).Started();
        var browser = new CookieJar(app, proxied: false);
        using var page = await browser.GetAsync("/signin");
        Assert.False(page.Headers.Contains("Strict-Transport-Security"));
        var antiforgery = Assert.Single(browser.SetCookies, c => c.Key.StartsWith(".AspNetCore.Antiforgery", StringComparison.Ordinal));
        Assert.DoesNotContain("; secure", antiforgery.Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A browser on https in front of a Kestrel served over http: it keeps Secure cookies (an HttpClient's
    /// CookieContainer would not send them back over http) and remembers every Set-Cookie header it got.
    /// </summary>
    private sealed class CookieJar(TesseraApp app, bool proxied)
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        /// <summary>The last Set-Cookie header per cookie name.</summary>
        public Dictionary<string, string> SetCookies { get; } = new(StringComparer.Ordinal);

        public List<HttpResponseMessage> Responses { get; } = [];

        public Task<HttpResponseMessage> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

        public Task<HttpResponseMessage> PostAsync(string path, Dictionary<string, string> form)
            => SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) });

        /// <summary>Signs in, saves a group (TempData), starts an SSO sign-in; returns the cookies set on the way.</summary>
        public async Task<Dictionary<string, string>> WalkTheBackOfficeAsync()
        {
            var signIn = await (await GetAsync("/signin")).Content.ReadAsStringAsync();
            var signedIn = await PostAsync("/signin", new()
            {
                ["Login"] = TesseraApp.AdminUsername,
                ["Password"] = TesseraApp.AdminPassword,
                ["returnUrl"] = "/",
                ["__RequestVerificationToken"] = Seed.AntiforgeryToken(signIn),
            });
            Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"sign-in: {(int)signedIn.StatusCode} {await signedIn.Content.ReadAsStringAsync()}");

            var form = await (await GetAsync("/admin/groups/new")).Content.ReadAsStringAsync();
            var saved = await PostAsync("/admin/groups/new", new()
            {
                ["Name"] = Seed.Unique("https-group"),
                ["__RequestVerificationToken"] = Seed.AntiforgeryToken(form),
            });
            Assert.True(saved.StatusCode == HttpStatusCode.Redirect, $"group: {(int)saved.StatusCode} {await saved.Content.ReadAsStringAsync()}");

            var sso = await GetAsync("/signin/sso/test");
            Assert.True(sso.StatusCode == HttpStatusCode.Redirect, $"SSO challenge: {(int)sso.StatusCode}");
            return SetCookies;
        }

        private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
        {
            using var client = app.Client();
            if (proxied)
            {
                request.Headers.Add("X-Forwarded-Proto", "https");
            }

            if (_values.Count > 0)
            {
                request.Headers.Add("Cookie", string.Join("; ", _values.Select(c => $"{c.Key}={c.Value}")));
            }

            var response = await client.SendAsync(request);
            foreach (var header in response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [])
            {
                var pair = header.Split(';', 2)[0];
                var name = pair.Split('=', 2)[0];
                SetCookies[name] = header;
                _values[name] = pair.Split('=', 2)[1];
            }

            Responses.Add(response);
            return response;
        }
    }
}
