using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// What a public client registered in <see cref="TesseraApp"/> does in the authorization code flow with PKCE:
/// sends the user's browser (a cookie-keeping client) to /connect/authorize, reads the code off the redirect,
/// and redeems it at /connect/token.
/// </summary>
public sealed class AuthorizationCodeClient(string clientId = TesseraApp.ConsoleClientId, string redirectUri = TesseraApp.ConsoleRedirectUri)
{
    public string ClientId => clientId;

    public string RedirectUri => redirectUri;

    public string Verifier { get; } = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public string State { get; } = Guid.NewGuid().ToString("N");

    public string Challenge => WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(Verifier)));

    public string AuthorizeUrl(string? prompt = null, string method = "S256", bool pkce = true, string scope = "api")
    {
        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = scope,
            ["state"] = State,
        };
        if (pkce)
        {
            query["code_challenge"] = method == "plain" ? Verifier : Challenge;
            query["code_challenge_method"] = method;
        }

        if (prompt is not null)
        {
            query["prompt"] = prompt;
        }

        return QueryHelpers.AddQueryString("/connect/authorize", query);
    }

    /// <summary>The code from a redirect to the client; fails the test when the redirect is anything else.</summary>
    public string CodeFrom(HttpResponseMessage response)
    {
        var location = response.Headers.Location?.OriginalString ?? "";
        Assert.True(response.StatusCode == HttpStatusCode.Redirect && location.StartsWith(redirectUri + "?", StringComparison.Ordinal),
            $"expected a redirect to {redirectUri}: {(int)response.StatusCode} {location}");
        var query = QueryHelpers.ParseQuery(new Uri(location).Query);
        Assert.Equal(State, query["state"].ToString());
        return query["code"].ToString();
    }

    public async Task<HttpResponseMessage> RedeemAsync(HttpClient client, string code, string? verifier = null, string? redirect = null, string? asClient = null)
        => await client.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirect ?? redirectUri,
            ["client_id"] = asClient ?? clientId,
            ["code_verifier"] = verifier ?? Verifier,
        }));

    /// <summary>The whole flow for a user who signs in with a password: an access token for the REST API.</summary>
    public static async Task<string> TokenForAsync(TesseraApp app, string login, string password)
    {
        using var browser = app.Client(cookies: true);
        var signedIn = await Seed.SignInAsync(browser, login, password);
        Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"sign-in of {login}: {(int)signedIn.StatusCode}");
        var flow = new AuthorizationCodeClient();
        var code = flow.CodeFrom(await browser.GetAsync(flow.AuthorizeUrl()));
        using var client = app.Client();
        var response = await flow.RedeemAsync(client, code);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"code redemption for {login}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }
}
