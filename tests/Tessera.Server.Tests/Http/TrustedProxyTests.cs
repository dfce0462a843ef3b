using System.Net;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Http;

/// <summary>
/// X-Forwarded-For and X-Forwarded-Proto count only from the proxies named in Tessera:Http:TrustedProxies:
/// the audit log (and the rate limits, which key on the same address) see the client behind them,
/// and a TLS-terminating proxy's https reaches the token endpoint. Served by Kestrel on loopback,
/// so the connection's own address is 127.0.0.1.
/// </summary>
public sealed class TrustedProxyTests
{
    [Fact]
    public async Task Forwarded_addresses_are_believed_only_from_trusted_proxies_hop_by_hop()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using (var direct = new TesseraApp(database, kestrel: true).Started())
        {
            // Nobody trusted: the header is the client's word, and the connection's address is recorded.
            Assert.Equal("127.0.0.1", await ClientIpOfAFailedTokenAsync(direct, "203.0.113.7"));
        }

        await using (var behindOne = new TesseraApp(database, Proxies("127.0.0.1"), kestrel: true).Started())
        {
            Assert.Equal("203.0.113.7", await ClientIpOfAFailedTokenAsync(behindOne, "203.0.113.7"));

            // The nearest hop is trusted, the one before it is not: it is the client, whatever it claims.
            Assert.Equal("203.0.113.7", await ClientIpOfAFailedTokenAsync(behindOne, "198.51.100.9, 203.0.113.7"));
        }

        await using (var behindTwo = new TesseraApp(database, Proxies("127.0.0.1, 203.0.113.0/24"), kestrel: true).Started())
        {
            Assert.Equal("198.51.100.9", await ClientIpOfAFailedTokenAsync(behindTwo, "198.51.100.9, 203.0.113.7"));
        }
    }

    [Fact]
    public async Task A_trusted_TLS_terminating_proxy_lets_an_https_PublicUrl_issue_tokens()
    {
        await using var database = TestDatabase.Create("sqlite");
        var https = new Dictionary<string, string?> { ["Tessera:PublicUrl"] = "https://tessera.example" };
        await using (var untrusted = new TesseraApp(database, https, kestrel: true).Started())
        {
            using var client = untrusted.Client();
            client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
            var refused = await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        var trusted = new Dictionary<string, string?>(https) { [Server.Http.TrustedProxies.Setting] = "127.0.0.1" };
        await using (var app = new TesseraApp(database, trusted, kestrel: true).Started())
        {
            using var plain = app.Client();
            Assert.Equal(HttpStatusCode.BadRequest, (await Seed.RequestTokenAsync(plain, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret)).StatusCode);

            using var client = app.Client();
            client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
            var issued = await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
            Assert.True(issued.IsSuccessStatusCode, await issued.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("proxy.example")]
    [InlineData("10.0.0.0/33")]
    public async Task A_proxy_entry_that_is_no_address_or_network_stops_the_start(string entry)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, Proxies(entry), kestrel: true);
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains("Tessera:Http:TrustedProxies", failure.ToString(), StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Proxies(string value) => new() { [Server.Http.TrustedProxies.Setting] = value };

    private static async Task<string?> ClientIpOfAFailedTokenAsync(TesseraApp app, string forwardedFor)
    {
        var login = Seed.Unique("nobody");
        using var client = app.Client();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", forwardedFor);
        Assert.False((await Seed.RequestTokenAsync(client, login, "not-a-secret")).IsSuccessStatusCode);

        await using var scope = app.Scope(out var db);
        return (await db.AuditEvents.SingleAsync(a => a.Action == "token.failed" && a.ActorName == login)).ClientIp;
    }
}
