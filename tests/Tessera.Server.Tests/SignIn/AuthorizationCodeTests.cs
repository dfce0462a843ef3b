using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteAuthorizationCodeTests(SqliteHost host) : AuthorizationCodeTests<SqliteHost>(host);

public sealed class PostgresAuthorizationCodeTests(PostgresHost host) : AuthorizationCodeTests<PostgresHost>(host);

/// <summary>BackOffice users obtain access tokens through a registered public client: authorization code with PKCE.</summary>
public abstract class AuthorizationCodeTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Backoffice-Password-123";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_signed_in_BackOffice_user_gets_an_access_token_for_the_API_with_their_own_privileges()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password, "Administrator");
        var token = await AuthorizationCodeClient.TokenForAsync(App, user.Username, Password);

        using var api = Seed.WithBearer(App, token);
        var me = await Seed.JsonAsync(await api.GetAsync("/api/v1/me"));
        Assert.Equal(user.Username, me.GetProperty("username").GetString());
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/users?limit=1")).StatusCode);

        var payload = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1])).RootElement;
        Assert.Equal(user.Id.ToString(), payload.GetProperty("sub").GetString());
        Assert.Equal("backoffice", payload.GetProperty("user_type").GetString());
        Assert.Equal("tessera-api", payload.GetProperty("aud").GetString());
        Assert.False(payload.TryGetProperty(Server.SignIn.AuthorizationCode.CodeIdClaim, out _));

        // A user without MANAGE_USERS or VIEW_USERS gets a token that opens only what they may do.
        var plain = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var plainApi = Seed.WithBearer(App, await AuthorizationCodeClient.TokenForAsync(App, plain.Username, Password));
        Assert.Equal(HttpStatusCode.OK, (await plainApi.GetAsync("/api/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await plainApi.GetAsync("/api/v1/users?limit=1")).StatusCode);

        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "token.authorization_code" && a.Outcome == "success"
            && a.Details!.Contains(TesseraApp.ConsoleClientId)));
    }

    [Fact]
    public async Task The_response_holds_an_access_token_only_and_the_discovery_document_announces_the_flow()
    {
        using var browser = await SignedInBrowserAsync();
        var flow = new AuthorizationCodeClient();

        // No refresh tokens: a client that asks for offline_access is refused; with a session, a new code is one redirect away.
        var offline = await browser.GetAsync(flow.AuthorizeUrl(scope: "api offline_access"));
        Assert.Equal(HttpStatusCode.BadRequest, offline.StatusCode);
        Assert.Contains("offline_access", await offline.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var code = flow.CodeFrom(await browser.GetAsync(flow.AuthorizeUrl()));
        using var client = App.Client();
        var body = await Seed.JsonAsync(await flow.RedeemAsync(client, code));
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal("api", body.GetProperty("scope").GetString());
        Assert.False(body.TryGetProperty("refresh_token", out _), body.ToString());
        Assert.False(body.TryGetProperty("id_token", out _), body.ToString());

        var discovery = await client.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        Assert.EndsWith("/connect/authorize", discovery.GetProperty("authorization_endpoint").GetString(), StringComparison.Ordinal);
        Assert.Equal(["S256"], discovery.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("authorization_code", discovery.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Without_a_session_the_user_signs_in_first_and_comes_back_to_the_flow()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = App.Client(cookies: true);
        var flow = new AuthorizationCodeClient();

        var code = flow.CodeFrom(await SignInOnTheWayAsync(browser, await browser.GetAsync(flow.AuthorizeUrl()), user));
        using var client = App.Client();
        Assert.Equal(HttpStatusCode.OK, (await flow.RedeemAsync(client, code)).StatusCode);
    }

    [Fact]
    public async Task With_prompt_login_a_signed_in_user_enters_their_credentials_again_before_a_code_is_issued()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = await SignedInBrowserAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/profile")).StatusCode);
        var flow = new AuthorizationCodeClient();

        var toSignIn = await browser.GetAsync(flow.AuthorizeUrl(prompt: "login"));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/profile")).StatusCode);
        var code = flow.CodeFrom(await SignInOnTheWayAsync(browser, toSignIn, user));
        using var client = App.Client();
        Assert.Equal(HttpStatusCode.OK, (await flow.RedeemAsync(client, code)).StatusCode);
    }

    /// <summary>
    /// Follows a redirect to the sign-in page, signs in there and follows the way back; returns the answer of the
    /// authorization endpoint it leads to. The way back never asks for a new sign-in again (no prompt=login).
    /// </summary>
    private async Task<HttpResponseMessage> SignInOnTheWayAsync(HttpClient browser, HttpResponseMessage toSignIn, User user)
    {
        Assert.Equal(HttpStatusCode.Redirect, toSignIn.StatusCode);
        var signInUrl = new Uri(new Uri(App.BaseUrl), toSignIn.Headers.Location!);
        Assert.Equal("/signin", signInUrl.AbsolutePath);
        var returnUrl = QueryHelpers.ParseQuery(signInUrl.Query)["ReturnUrl"].ToString();
        Assert.StartsWith("/connect/authorize?", returnUrl, StringComparison.Ordinal);
        Assert.DoesNotContain("prompt", returnUrl, StringComparison.Ordinal);

        var page = await browser.GetStringAsync(signInUrl.PathAndQuery);
        var signedIn = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = user.Username,
            ["Password"] = Password,
            ["returnUrl"] = returnUrl,
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Equal(returnUrl, signedIn.Headers.Location!.OriginalString);
        return await browser.GetAsync(returnUrl);
    }

    [Fact]
    public async Task With_prompt_none_and_no_session_the_client_is_told_login_required()
    {
        using var browser = App.Client(cookies: true);
        var flow = new AuthorizationCodeClient();
        var response = await browser.GetAsync(flow.AuthorizeUrl(prompt: "none"));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var query = QueryHelpers.ParseQuery(new Uri(response.Headers.Location!.OriginalString).Query);
        Assert.StartsWith(flow.RedirectUri + "?", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal("login_required", query["error"].ToString());
        Assert.Equal(flow.State, query["state"].ToString());
        Assert.False(query.ContainsKey("code"));
    }

    [Fact]
    public async Task A_code_is_redeemed_once_by_its_own_client_with_its_verifier_and_redirect_uri()
    {
        var (user, flow, code) = await CodeAsync();
        using var client = App.Client();

        await AssertRefusedAsync(await flow.RedeemAsync(client, code, verifier: new AuthorizationCodeClient().Verifier), "invalid_grant");
        await AssertRefusedAsync(await flow.RedeemAsync(client, code, redirect: "com.example.console:/callback"), "invalid_grant");
        await AssertRefusedAsync(await flow.RedeemAsync(client, code, asClient: TesseraApp.OtherClientId), "invalid_grant");
        // Refused either way; OpenIddict finds the code was not issued to that client before Tessera finds no such client.
        await AssertRefusedAsync(await flow.RedeemAsync(client, code, asClient: "no-such-client"), "invalid_grant");
        await AssertRefusedAsync(await flow.RedeemAsync(client, code + "x"), "invalid_grant");

        Assert.Equal(HttpStatusCode.OK, (await flow.RedeemAsync(client, code)).StatusCode);
        await AssertRefusedAsync(await flow.RedeemAsync(client, code), "invalid_grant");

        await using var scope = App.Scope(out var db);
        var outcomes = await db.AuditEvents.Where(a => a.TargetId == user.Id.ToString() && a.Action == "token.authorization_code")
            .OrderBy(a => a.Id).Select(a => a.Outcome + " " + a.Details).ToListAsync();
        Assert.Equal(2, outcomes.Count);
        Assert.StartsWith("success", outcomes[0], StringComparison.Ordinal);
        Assert.Contains("code_reused", outcomes[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Of_concurrent_redemptions_of_one_code_exactly_one_gets_a_token()
    {
        var (user, flow, code) = await CodeAsync();

        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var client = App.Client();
            return (await flow.RedeemAsync(client, code)).StatusCode;
        }));
        Assert.Single(attempts, s => s == HttpStatusCode.OK);
        Assert.All(attempts.Where(s => s != HttpStatusCode.OK), s => Assert.Equal(HttpStatusCode.BadRequest, s));
    }

    [Fact]
    public async Task A_password_change_or_a_disable_between_authorization_and_redemption_voids_the_code()
    {
        foreach (var change in new Action<User>[] { u => u.SecurityStamp = User.NewStamp(), u => u.Status = UserStatus.Disabled })
        {
            var (user, flow, code) = await CodeAsync();

            await Seed.UpdateUserAsync(App, user.Id, change);
            using var client = App.Client();
            await AssertRefusedAsync(await flow.RedeemAsync(client, code), "invalid_grant");
        }
    }

    [Fact]
    public async Task A_code_expires()
    {
        var (user, flow, code) = await CodeAsync();
        App.Clock.Advance(TimeSpan.FromMinutes(6));
        try
        {
            using var client = App.Client();
            await AssertRefusedAsync(await flow.RedeemAsync(client, code), "invalid_grant");
        }
        finally
        {
            App.Clock.Advance(TimeSpan.FromMinutes(-6));
        }
    }

    [Fact]
    public async Task Redemptions_and_revocations_an_hour_past_their_expiry_are_purged()
    {
        App.Clock.Advance(TimeSpan.FromHours(3));
        try
        {
            var now = App.Clock.GetUtcNow().UtcDateTime;
            var stale = "stale-" + Guid.NewGuid().ToString("N");
            var recent = "recent-" + Guid.NewGuid().ToString("N");
            await using (var scope = App.Scope(out var db))
            {
                db.RevokedTokens.Add(new RevokedToken { TokenId = stale, ExpiresAt = now.AddHours(-2) });
                db.RevokedTokens.Add(new RevokedToken { TokenId = recent, ExpiresAt = now.AddMinutes(-5) });
                await db.SaveChangesAsync();
            }

            var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
            await AuthorizationCodeClient.TokenForAsync(App, user.Username, Password);

            await using (var scope = App.Scope(out var db))
            {
                Assert.False(await db.RevokedTokens.AnyAsync(t => t.TokenId == stale));
                Assert.True(await db.RevokedTokens.AnyAsync(t => t.TokenId == recent));
            }
        }
        finally
        {
            App.Clock.Advance(TimeSpan.FromHours(-3));
        }
    }

    [Theory]
    [InlineData("no-such-client", TesseraApp.ConsoleRedirectUri, "invalid_client")]
    [InlineData(TesseraApp.ConsoleClientId, "https://attacker.example/callback", "invalid_request")]
    [InlineData(TesseraApp.ConsoleClientId, TesseraApp.ConsoleRedirectUri + "/more", "invalid_request")]
    [InlineData(TesseraApp.ConsoleClientId, TesseraApp.OtherRedirectUri, "invalid_request")]
    [InlineData("agent-assist", TesseraApp.ConsoleRedirectUri, "invalid_client")]
    public async Task An_unregistered_client_or_redirect_uri_gets_an_error_here_and_no_redirect(string clientId, string redirectUri, string error)
    {
        using var browser = await SignedInBrowserAsync();
        var response = await browser.GetAsync(new AuthorizationCodeClient(clientId, redirectUri).AuthorizeUrl());
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, response.StatusCode.ToString());
        Assert.Null(response.Headers.Location);
        Assert.Contains("error:" + error, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, "S256")]
    [InlineData(true, "plain")]
    public async Task Without_an_S256_code_challenge_there_is_no_code(bool pkce, string method)
    {
        using var browser = await SignedInBrowserAsync();
        var flow = new AuthorizationCodeClient();
        var response = await browser.GetAsync(flow.AuthorizeUrl(pkce: pkce, method: method));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("error:invalid_request", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>A cookie-keeping client signed in as a new BackOffice user.</summary>
    private async Task<HttpClient> SignedInBrowserAsync(User? user = null)
    {
        user ??= await Seed.UserAsync(App, UserType.BackOffice, Password);
        var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, user.Username, Password);
        return browser;
    }

    /// <summary>A code issued to the console client for a new, signed-in BackOffice user.</summary>
    private async Task<(User User, AuthorizationCodeClient Flow, string Code)> CodeAsync()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var browser = await SignedInBrowserAsync(user);
        var flow = new AuthorizationCodeClient();
        return (user, flow, flow.CodeFrom(await browser.GetAsync(flow.AuthorizeUrl())));
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string error)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"{(int)response.StatusCode} {body}");
        Assert.Equal(error, JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
    }
}

/// <summary>`Tessera:Tokens:Clients` is checked at start.</summary>
public sealed class PublicClientSettingsTests
{
    [Theory]
    [InlineData("console", "http://console.example/callback")]
    [InlineData("console", "https://console.example/callback#fragment")]
    [InlineData("console", "relative/callback")]
    [InlineData("console", "nodot:/callback")]
    [InlineData("agent-assist", "https://console.example/callback")]
    [InlineData("", "https://console.example/callback")]
    public async Task A_bad_client_entry_stops_the_start_and_names_the_setting(string clientId, string redirectUri)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?>
        {
            ["Tessera:Tokens:Clients:2:ClientId"] = clientId,
            ["Tessera:Tokens:Clients:2:RedirectUris:0"] = redirectUri,
        });
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains("Tessera:Tokens:Clients:2", failure.ToString(), StringComparison.Ordinal);
    }
}
