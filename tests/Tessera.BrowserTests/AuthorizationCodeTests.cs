using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.WebUtilities;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>A public client sends a BackOffice user through sign-in in a real browser and gets a code back.</summary>
public sealed class AuthorizationCodeTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Console-Password-2026-x";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_user_without_a_session_signs_in_and_the_browser_lands_on_the_clients_redirect_uri_with_a_code()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var page = await host.NewPageAsync();

        // The client's redirect URI, served on loopback: what arrives there is what the client reads.
        using var redirectTarget = new HttpListener();
        redirectTarget.Prefixes.Add(TesseraApp.ConsoleRedirectUri + "/");
        redirectTarget.Start();
        var arrivals = Channel.CreateUnbounded<string>();
        _ = Task.Run(async () =>
        {
            while (redirectTarget.IsListening)
            {
                var context = await redirectTarget.GetContextAsync();
                arrivals.Writer.TryWrite(context.Request.Url!.AbsoluteUri);
                context.Response.ContentType = "text/plain";
                await context.Response.OutputStream.WriteAsync("signed in"u8.ToArray());
                context.Response.Close();
            }
        });

        var flow = new AuthorizationCodeClient();
        await page.GotoAsync(flow.AuthorizeUrl());
        Assert.Equal("/signin", new Uri(page.Url).AbsolutePath);
        await page.FillAsync("#login", user.Username);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("button[type=submit].primary");

        // Browsers hold every redirect after a form to the page's CSP form-action: the client's origin must be in it.
        var landed = await arrivals.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        var query = QueryHelpers.ParseQuery(new Uri(landed).Query);
        Assert.Equal(flow.State, query["state"].ToString());

        using var client = App.Client();
        var redeemed = await flow.RedeemAsync(client, query["code"].ToString());
        var body = await redeemed.Content.ReadAsStringAsync();
        Assert.True(redeemed.IsSuccessStatusCode, body);
        using var api = Seed.WithBearer(App, JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!);
        var me = await Seed.JsonAsync(await api.GetAsync("/api/v1/me"));
        Assert.Equal(user.Username, me.GetProperty("username").GetString());

        // Signed in now: the next authorization request goes straight back to the client.
        var again = new AuthorizationCodeClient();
        await page.GotoAsync(again.AuthorizeUrl());
        var second = await arrivals.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(again.State, QueryHelpers.ParseQuery(new Uri(second).Query)["state"].ToString());
    }
}
