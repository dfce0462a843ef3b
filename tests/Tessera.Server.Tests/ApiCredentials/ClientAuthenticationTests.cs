using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Core.Users;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ApiCredentials;

public sealed class SqliteClientAuthenticationTests(SqliteProxiedHost host) : ClientAuthenticationTests<SqliteProxiedHost>(host);

public sealed class PostgresClientAuthenticationTests(PostgresProxiedHost host) : ClientAuthenticationTests<PostgresProxiedHost>(host);

/// <summary>
/// API users authenticate at /connect/token with any of their credentials: generated or chosen secrets, and
/// private_key_jwt (RFC 7523) with their registered public keys. Served by Kestrel behind a trusted proxy (loopback), so
/// a test chooses the client's address with X-Forwarded-For: failures are throttled per (client, address), and a test
/// that fails on purpose does so from an address of its own.
/// </summary>
public abstract class ClientAuthenticationTests<THost>(THost host) : IClassFixture<THost> where THost : ProxiedHost
{
    private TesseraApp App => host.App;

    /// <summary>Tessera:PublicUrl, which openid-client and Tessera's discovery both name with a trailing slash.</summary>
    private string Issuer => App.BaseUrl + "/";

    [Fact]
    public async Task Rotation_the_old_and_the_new_secret_both_work_until_the_old_is_deleted()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, initial) = await DelegationArrange.ApiUserAsync(admin, []);
        var created = await AddAsync(admin, userId, new { name = "erp-2027", type = "secret" });
        var next = created.GetProperty("secret").GetString()!;

        using var client = ClientFrom("192.0.2.10");
        foreach (var secret in new[] { initial, next, initial, next })
        {
            await ExpectTokenAsync(client, Secret(clientId, secret));
        }

        var initialId = (await ListAsync(admin, userId)).Single(c => c.GetProperty("name").GetString() == "initial").GetProperty("id").GetString();
        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/users/{userId}/credentials/{initialId}"), HttpStatusCode.NoContent);

        await ExpectRefusedAsync(client, Secret(clientId, initial));
        await ExpectTokenAsync(client, Secret(clientId, next));
        Assert.Equal(["erp-2027"], (await ListAsync(admin, userId)).Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task A_generated_secret_is_shown_in_the_201_answer_only()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var created = await AddAsync(admin, userId, new { name = "storefront", type = "secret" });
        var secret = created.GetProperty("secret").GetString()!;
        Assert.Matches("^tsr_[A-Za-z0-9_-]{43}$", secret);

        var response = await admin.GetAsync($"/api/v1/users/{userId}/credentials");
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, raw);
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[4..], raw, StringComparison.Ordinal);
        foreach (var credential in JsonDocument.Parse(raw).RootElement.GetProperty("items").EnumerateArray())
        {
            Assert.False(credential.TryGetProperty("secret", out _), credential.ToString());
        }

        var one = JsonDocument.Parse(raw).RootElement.GetProperty("items").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "storefront");
        Assert.Equal(created.GetProperty("id").GetString(), one.GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS256")]
    [InlineData("ES256")]
    public async Task Private_key_jwt_with_a_key_made_in_the_test_gets_a_token_of_the_API_user(string algorithm)
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var key = TestKey.Create(algorithm);
        var credential = await AddAsync(admin, userId, new { name = "erp-key", type = "public_key", jwk = key.PublicJwk() });
        Assert.Equal(algorithm == "ES256" ? "EC P-256" : "RSA 2048", credential.GetProperty("keyType").GetString());

        using var client = ClientFrom("192.0.2.20");
        // With the kid Tessera assigned and a client_id, and with neither (iss names the client, Tessera tries its keys).
        foreach (var kid in new[] { credential.GetProperty("thumbprint").GetString(), null })
        {
            var assertion = key.Sign(iss: clientId, aud: Issuer, now: App.Clock.GetUtcNow(), kid: kid);
            var token = await ExpectTokenAsync(client, Assertion(clientId, assertion, withClientId: kid is not null));
            using var api = Seed.WithBearer(App, token);
            var me = await Expect.ResponseAsync(await api.GetAsync("/api/v1/me"), HttpStatusCode.OK);
            Assert.Equal(userId, me.GetProperty("id").GetGuid());
        }

        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        var events = await db.AuditEvents.AsNoTracking().Where(a => a.TargetId == userId.ToString() && a.Action == "token.client_credentials").ToListAsync();
        Assert.Equal(2, events.Count(e => e.Details!.Contains("private_key_jwt") && e.Details.Contains("erp-key")));
    }

    [Fact]
    public async Task Discovery_lists_private_key_jwt_beside_the_secrets()
    {
        using var client = App.Client();
        var discovery = await Expect.ResponseAsync(await client.GetAsync("/.well-known/openid-configuration"), HttpStatusCode.OK);
        var methods = discovery.GetProperty("token_endpoint_auth_methods_supported").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("private_key_jwt", methods);
        Assert.Contains("client_secret_basic", methods);
        Assert.Contains("client_secret_post", methods);
    }

    [Fact]
    public async Task Assertions_that_break_a_rule_are_refused_as_a_wrong_credential_and_each_is_audited()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, secret) = await DelegationArrange.ApiUserAsync(admin, []);
        var (otherId, otherClientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var key = TestKey.Create("RS256");
        using var othersKey = TestKey.Create("ES256");
        using var deletedKey = TestKey.Create("PS256");
        await AddAsync(admin, userId, new { name = "erp-key", type = "public_key", jwk = key.PublicJwk() });
        var deleted = await AddAsync(admin, userId, new { name = "old-key", type = "public_key", jwk = deletedKey.PublicJwk() });
        await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/users/{userId}/credentials/{deleted.GetProperty("id").GetString()}"), HttpStatusCode.NoContent);
        await AddAsync(admin, otherId, new { name = "other-key", type = "public_key", jwk = othersKey.PublicJwk() });

        var now = App.Clock.GetUtcNow();
        var publicKeyBytes = key.Rsa!.ExportSubjectPublicKeyInfo();
        var replayed = key.Sign(sub: clientId, iss: clientId, aud: Issuer, now: now);
        var cases = new (string Name, Dictionary<string, string> Form, string Reason)[]
        {
            ("wrong aud", Assertion(clientId, key.Sign(aud: "https://elsewhere.example/connect/token", iss: clientId, now: now)), "invalid_assertion"),
            ("aud the token endpoint path elsewhere", Assertion(clientId, key.Sign(aud: "https://elsewhere.example/", iss: clientId, now: now)), "invalid_assertion"),
            ("expired", Assertion(clientId, key.Sign(iss: clientId, aud: Issuer, now: now - TimeSpan.FromMinutes(10))), "invalid_assertion"),
            ("exp beyond 5 minutes", Assertion(clientId, key.Sign(iss: clientId, aud: Issuer, now: now, lifetime: TimeSpan.FromMinutes(10))), "assertion_lifetime"),
            ("no jti", Assertion(clientId, key.Sign(iss: clientId, aud: Issuer, now: now, jti: null)), "assertion_jti"),
            ("alg none", Assertion(clientId, Unsigned(clientId, Issuer, now)), "wrong_key"),
            ("HS256 keyed with the public key", Assertion(clientId, Hmac(clientId, Issuer, now, publicKeyBytes)), "wrong_key"),
            ("another client's key", Assertion(clientId, othersKey.Sign(iss: clientId, aud: Issuer, now: now)), "wrong_key"),
            ("a deleted key", Assertion(clientId, deletedKey.Sign(iss: clientId, aud: Issuer, now: now)), "wrong_key"),
            ("iss is another client", Assertion(otherClientId, key.Sign(iss: otherClientId, aud: Issuer, now: now)), "wrong_key"),
            ("sub differs from iss", Assertion(clientId, key.Sign(iss: clientId, sub: otherClientId, aud: Issuer, now: now)), "invalid_assertion"),
            ("another assertion type", With(Assertion(clientId, key.Sign(iss: clientId, aud: Issuer, now: now)), "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"), "invalid_assertion"),
            ("not a JWT", Assertion(clientId, "not.a.jwt"), "invalid_assertion"),
        };

        for (var i = 0; i < cases.Length; i++)
        {
            // One address per case: the throttle would otherwise answer the later ones 429.
            using var client = ClientFrom($"198.51.100.{i + 1}");
            var response = await PostTokenAsync(client, cases[i].Form);
            await ExpectInvalidClientAsync(response, cases[i].Name);
        }

        // Two credentials in one request: OpenIddict refuses it as malformed (RFC 6749 §2.3), and it counts as a failure.
        using (var client = ClientFrom("198.51.100.99"))
        {
            var both = await PostTokenAsync(client, With(Assertion(clientId, key.Sign(iss: clientId, aud: Issuer, now: now)), "client_secret", secret));
            var body = await Expect.ResponseAsync(both, HttpStatusCode.BadRequest);
            Assert.Equal("invalid_request", body.GetProperty("error").GetString());
        }

        // A jti is used once: the first use gets a token, the replay is refused.
        using (var client = ClientFrom("198.51.100.100"))
        {
            await ExpectTokenAsync(client, Assertion(clientId, replayed));
            await ExpectInvalidClientAsync(await PostTokenAsync(client, Assertion(clientId, replayed)), "replayed jti");
        }

        await using var scope = App.Scope(out var db);
        var failures = await db.AuditEvents.AsNoTracking().Where(a => a.Action == "token.failed" && (a.ActorName == clientId || a.ActorName == otherClientId)).ToListAsync();
        Assert.Equal(cases.Length + 2, failures.Count);
        foreach (var reason in cases.Select(c => c.Reason).Append("replayed_assertion").Append("secret_and_assertion").Distinct())
        {
            var expected = cases.Count(c => c.Reason == reason) + (reason is "replayed_assertion" or "secret_and_assertion" ? 1 : 0);
            Assert.True(expected == failures.Count(f => f.Details!.Contains($"\"reason\":\"{reason}\"")),
                $"{reason}: expected {expected} in {string.Join("\n", failures.Select(f => f.Details))}");
        }

        Assert.All(failures, f => Assert.Contains("private_key_jwt", f.Details!, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_audience_that_is_only_the_requests_Host_is_refused()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var key = TestKey.Create("ES256");
        await AddAsync(admin, userId, new { name = "erp-key", type = "public_key", jwk = key.PublicJwk() });
        using var client = ClientFrom("198.51.100.150");

        // OpenIddict takes any audience whose path is the token endpoint's, at whatever host the request names.
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new FormUrlEncodedContent(Assertion(clientId,
            key.Sign(iss: clientId, aud: "http://tessera.attacker.example/connect/token", now: App.Clock.GetUtcNow()))) };
        request.Headers.Host = "tessera.attacker.example";
        await ExpectInvalidClientAsync(await client.SendAsync(request), "Host-only audience");

        // The token endpoint under the public address is fine, as is the issuer without its slash.
        await ExpectTokenAsync(client, Assertion(clientId, key.Sign(iss: clientId, aud: App.BaseUrl + "/connect/token", now: App.Clock.GetUtcNow())));
        await ExpectTokenAsync(client, Assertion(clientId, key.Sign(iss: clientId, aud: App.BaseUrl, now: App.Clock.GetUtcNow())));
    }

    [Fact]
    public async Task Two_requests_racing_with_one_jti_get_exactly_one_token()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var key = TestKey.Create("ES256");
        await AddAsync(admin, userId, new { name = "erp-key", type = "public_key", jwk = key.PublicJwk() });

        for (var round = 0; round < 3; round++)
        {
            var assertion = key.Sign(iss: clientId, aud: Issuer, now: App.Clock.GetUtcNow());
            var answers = await Task.WhenAll(Enumerable.Range(0, 2).Select(async i =>
            {
                using var client = ClientFrom($"198.51.100.{200 + (round * 2) + i}");
                return await PostTokenAsync(client, Assertion(clientId, assertion));
            }));
            var statuses = answers.Select(a => a.StatusCode).Order().ToList();
            Assert.True(statuses is [HttpStatusCode.OK, HttpStatusCode.Unauthorized],
                string.Join(", ", await Task.WhenAll(answers.Select(async a => $"{(int)a.StatusCode} {await a.Content.ReadAsStringAsync()}"))));
        }
    }

    [Fact]
    public async Task Fifty_wrong_secrets_from_one_address_are_throttled_the_right_one_from_another_address_gets_a_token_and_nobody_is_locked()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, secret) = await DelegationArrange.ApiUserAsync(admin, []);

        // Its own host on the same database: the test moves the clock.
        await using var app = new TesseraApp(App.Database, ProxiedHost.Proxies, kestrel: true).Started();
        using var attacker = ClientFrom("203.0.113.66", app);
        using var integration = ClientFrom("203.0.113.77", app);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 50; i++)
        {
            var response = await PostTokenAsync(attacker, Secret(clientId, $"guess-{i}"));
            var body = await Seed.JsonAsync(response);
            statuses.Add(response.StatusCode);
            Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, $"{i}: {(int)response.StatusCode} {body}");
            Assert.Equal("invalid_client", body.GetProperty("error").GetString());
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(int.TryParse(response.Headers.GetValues("Retry-After").Single(), out var seconds) && seconds >= 1, $"{i}: Retry-After");
                Assert.Contains("try again in", body.GetProperty("error_description").GetString(), StringComparison.Ordinal);
            }

            if (i == 5)
            {
                // Just blocked: the right secret from the same address is not even looked at.
                var blocked = await PostTokenAsync(attacker, Secret(clientId, secret));
                Assert.True(blocked.StatusCode == HttpStatusCode.TooManyRequests, $"{(int)blocked.StatusCode} {await blocked.Content.ReadAsStringAsync()}");
            }
        }

        // Five free failures, the sixth blocks; from then on the pair is answered 429 (a block that runs out in real
        // time between two requests lets one more wrong secret be checked, and doubles the next block).
        Assert.All(statuses.Take(6), s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 40, string.Join(",", statuses.Select(s => (int)s)));

        // The integration, calling from its own address, is unaffected.
        await ExpectTokenAsync(integration, Secret(clientId, secret));

        // Once the block has passed, the first address gets a token with the right secret too.
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        await ExpectTokenAsync(attacker, Secret(clientId, secret));

        await using var scope = app.Scope(out var db);
        var user = await db.Users.AsNoTracking().SingleAsync(u => u.Id == userId);
        Assert.Equal(UserStatus.Active, user.Status);
        Assert.Equal(0, user.FailedSignInCount);
        Assert.Equal(0, await db.AuditEvents.CountAsync(a => a.TargetId == userId.ToString() && a.Action == "user.locked"));
        var failed = await db.AuditEvents.AsNoTracking().Where(a => a.ActorName == clientId && a.Action == "token.failed").ToListAsync();
        Assert.Equal(51, failed.Count);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.TooManyRequests) + 1, failed.Count(f => f.Details!.Contains("\"reason\":\"throttled\"")));
        Assert.All(failed, f => Assert.Equal("203.0.113.66", f.ClientIp));
    }

    [Fact]
    public async Task An_expired_secret_or_key_fails_like_a_wrong_one_is_listed_as_expired_and_audited_as_such()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        await using var app = new TesseraApp(App.Database, ProxiedHost.Proxies, kestrel: true).Started();
        var expiresAt = app.Clock.GetUtcNow().UtcDateTime.AddDays(1);
        var secret = (await AddAsync(admin, userId, new { name = "short-secret", type = "secret", expiresAt })).GetProperty("secret").GetString()!;
        using var key = TestKey.Create("ES256");
        await AddAsync(admin, userId, new { name = "short-key", type = "public_key", jwk = key.PublicJwk(), expiresAt });

        using var client = ClientFrom("192.0.2.30", app);
        await ExpectTokenAsync(client, Secret(clientId, secret));
        await ExpectTokenAsync(client, Assertion(clientId, key.Sign(iss: clientId, aud: app.BaseUrl + "/", now: app.Clock.GetUtcNow())));

        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        await ExpectRefusedAsync(client, Secret(clientId, secret));
        await ExpectInvalidClientAsync(await PostTokenAsync(client, Assertion(clientId, key.Sign(iss: clientId, aud: app.BaseUrl + "/", now: app.Clock.GetUtcNow()))), "expired key");

        using var appAdmin = await Seed.AdminApiAsync(app);
        var listed = await ListAsync(appAdmin, userId);
        Assert.All(listed.Where(c => c.GetProperty("name").GetString()!.StartsWith("short-", StringComparison.Ordinal)),
            c => Assert.True(c.GetProperty("expired").GetBoolean(), c.ToString()));
        Assert.False(listed.Single(c => c.GetProperty("name").GetString() == "initial").GetProperty("expired").GetBoolean());

        await using var scope = app.Scope(out var db);
        var failed = await db.AuditEvents.AsNoTracking().Where(a => a.ActorName == clientId && a.Action == "token.failed").ToListAsync();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, f => Assert.Contains("\"reason\":\"expired_credential\"", f.Details!, StringComparison.Ordinal));
        Assert.Single(failed, f => f.Details!.Contains("short-secret"));
        Assert.Single(failed, f => f.Details!.Contains("short-key"));
    }

    [Fact]
    public async Task LastUsedAt_is_written_on_use_not_again_within_a_minute_and_again_after()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        await using var app = new TesseraApp(App.Database, ProxiedHost.Proxies, kestrel: true).Started();
        var secret = (await AddAsync(admin, userId, new { name = "busy", type = "secret" })).GetProperty("secret").GetString()!;
        using var key = TestKey.Create("RS256");
        await AddAsync(admin, userId, new { name = "busy-key", type = "public_key", jwk = key.PublicJwk() });
        using var appAdmin = await Seed.AdminApiAsync(app);
        Assert.All(await ListAsync(appAdmin, userId), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("lastUsedAt").ValueKind));

        using var client = ClientFrom("192.0.2.40", app);
        async Task UseBothAsync()
        {
            await ExpectTokenAsync(client, Secret(clientId, secret));
            await ExpectTokenAsync(client, Assertion(clientId, key.Sign(iss: clientId, aud: app.BaseUrl + "/", now: app.Clock.GetUtcNow())));
        }

        async Task<(DateTime Secret, DateTime Key)> LastUsedAsync()
        {
            var listed = await ListAsync(appAdmin, userId);
            DateTime Of(string name) => listed.Single(c => c.GetProperty("name").GetString() == name).GetProperty("lastUsedAt").GetDateTime();
            return (Of("busy"), Of("busy-key"));
        }

        var before = app.Clock.GetUtcNow().UtcDateTime;
        await UseBothAsync();
        var first = await LastUsedAsync();
        Assert.InRange(first.Secret, before.AddSeconds(-1), app.Clock.GetUtcNow().UtcDateTime.AddSeconds(1));
        Assert.InRange(first.Key, before.AddSeconds(-1), app.Clock.GetUtcNow().UtcDateTime.AddSeconds(1));

        app.Clock.Advance(TimeSpan.FromSeconds(30));
        await UseBothAsync();
        Assert.Equal(first, await LastUsedAsync());

        app.Clock.Advance(TimeSpan.FromSeconds(35));
        await UseBothAsync();
        var third = await LastUsedAsync();
        Assert.True(third.Secret >= first.Secret.AddSeconds(60) && third.Key >= first.Key.AddSeconds(60), $"{first} then {third}");
    }

    [Fact]
    public async Task Introspection_and_revocation_take_private_key_jwt_too()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, secret) = await DelegationArrange.ApiUserAsync(admin, []);
        using var key = TestKey.Create("PS256");
        await AddAsync(admin, userId, new { name = "erp-key", type = "public_key", jwk = key.PublicJwk() });
        using var client = ClientFrom("192.0.2.50");
        var token = await ExpectTokenAsync(client, Secret(clientId, secret));

        Dictionary<string, string> Authenticated(string audience) => new()
        {
            ["token"] = token, ["client_id"] = clientId,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = key.Sign(iss: clientId, aud: audience, now: App.Clock.GetUtcNow()),
        };

        var introspected = await Expect.ResponseAsync(await client.PostAsync("/connect/introspect", new FormUrlEncodedContent(Authenticated(Issuer))), HttpStatusCode.OK);
        Assert.True(introspected.GetProperty("active").GetBoolean(), introspected.ToString());
        // OpenIddict answers a refused assertion at introspection as an inactive token; Tessera answers it as at /connect/token.
        await ExpectInvalidClientAsync(await client.PostAsync("/connect/introspect", new FormUrlEncodedContent(Authenticated("https://elsewhere.example/"))), "introspection, wrong aud");

        await Expect.ResponseAsync(await client.PostAsync("/connect/revoke", new FormUrlEncodedContent(Authenticated(App.BaseUrl + "/connect/token"))), HttpStatusCode.OK);
        using var api = Seed.WithBearer(App, token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/api/v1/me")).StatusCode);
    }

    private HttpClient ClientFrom(string address, TesseraApp? app = null)
    {
        var client = (app ?? App).Client();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return client;
    }

    private static Dictionary<string, string> Secret(string clientId, string secret)
        => new() { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret };

    /// <summary>A client_credentials request authenticated by <paramref name="assertion"/>; client_id is optional (iss names the client).</summary>
    private static Dictionary<string, string> Assertion(string clientId, string assertion, bool withClientId = true)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = assertion,
        };
        if (withClientId)
        {
            form["client_id"] = clientId;
        }

        return form;
    }

    private static Dictionary<string, string> With(Dictionary<string, string> form, string name, string value) => new(form) { [name] = value };

    private static string Unsigned(string clientId, string audience, DateTimeOffset now)
        => new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(Claims(clientId, audience, now)));

    private static string Hmac(string clientId, string audience, DateTimeOffset now, byte[] keyBytes)
        => new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Claims = Claims(clientId, audience, now),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(keyBytes), SecurityAlgorithms.HmacSha256),
        });

    private static Dictionary<string, object> Claims(string clientId, string audience, DateTimeOffset now) => new()
    {
        ["iss"] = clientId, ["sub"] = clientId, ["aud"] = audience, ["jti"] = Guid.NewGuid().ToString(),
        ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = now.AddMinutes(1).ToUnixTimeSeconds(),
    };

    private static async Task<HttpResponseMessage> PostTokenAsync(HttpClient client, Dictionary<string, string> form)
        => await client.PostAsync("/connect/token", new FormUrlEncodedContent(form));

    private static async Task<string> ExpectTokenAsync(HttpClient client, Dictionary<string, string> form)
    {
        var body = await Expect.ResponseAsync(await PostTokenAsync(client, form), HttpStatusCode.OK);
        return body.GetProperty("access_token").GetString()!;
    }

    private static async Task ExpectRefusedAsync(HttpClient client, Dictionary<string, string> form)
        => await ExpectInvalidClientAsync(await PostTokenAsync(client, form), "secret");

    /// <summary>Refused as every wrong credential is: 401 invalid_client with the same description.</summary>
    private static async Task ExpectInvalidClientAsync(HttpResponseMessage response, string what)
    {
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {(int)response.StatusCode} {raw}");
        var body = JsonDocument.Parse(raw).RootElement;
        Assert.True(body.GetProperty("error").GetString() == "invalid_client", $"{what}: {raw}");
        Assert.True(body.GetProperty("error_description").GetString() == "The client credentials are invalid.", $"{what}: {raw}");
    }

    private static async Task<JsonElement> AddAsync(HttpClient admin, Guid userId, object request)
        => await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{userId}/credentials", request), HttpStatusCode.Created);

    private static async Task<List<JsonElement>> ListAsync(HttpClient admin, Guid userId)
        => [.. (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/users/{userId}/credentials"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray()];

    /// <summary>A key pair made in the test, and assertions it signs.</summary>
    private sealed class TestKey : IDisposable
    {
        private TestKey(string algorithm, RSA? rsa, ECDsa? ec) => (Algorithm, Rsa, Ec) = (algorithm, rsa, ec);

        public string Algorithm { get; }

        public RSA? Rsa { get; }

        public ECDsa? Ec { get; }

        public static TestKey Create(string algorithm) => algorithm == "ES256"
            ? new TestKey(algorithm, null, ECDsa.Create(ECCurve.NamedCurves.nistP256))
            : new TestKey(algorithm, RSA.Create(2048), null);

        public object PublicJwk()
        {
            if (Rsa is not null)
            {
                var p = Rsa.ExportParameters(false);
                return new { kty = "RSA", n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) };
            }

            var q = Ec!.ExportParameters(false).Q;
            return new { kty = "EC", crv = "P-256", x = Base64UrlEncoder.Encode(q.X), y = Base64UrlEncoder.Encode(q.Y) };
        }

        /// <summary>An assertion of the client <paramref name="iss"/> for <paramref name="aud"/>, made at <paramref name="now"/>; sub is iss unless given.</summary>
        public string Sign(string? iss = null, string? sub = null, string? aud = null, DateTimeOffset? now = null, TimeSpan? lifetime = null,
            string? jti = "new", string? kid = null)
        {
            var at = now ?? DateTimeOffset.UtcNow;
            var claims = new Dictionary<string, object>
            {
                ["iss"] = iss!, ["sub"] = sub ?? iss!, ["aud"] = aud!,
                ["iat"] = at.ToUnixTimeSeconds(), ["exp"] = at.Add(lifetime ?? TimeSpan.FromSeconds(60)).ToUnixTimeSeconds(),
            };
            if (jti is not null)
            {
                claims["jti"] = jti == "new" ? Guid.NewGuid().ToString() : jti;
            }

            SecurityKey key = Rsa is not null ? new RsaSecurityKey(Rsa) { KeyId = kid } : new ECDsaSecurityKey(Ec) { KeyId = kid };
            return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
            {
                Claims = claims,
                SigningCredentials = new SigningCredentials(key, Algorithm),
            });
        }

        public void Dispose()
        {
            Rsa?.Dispose();
            Ec?.Dispose();
        }
    }
}

/// <summary>A throttle setting out of range stops the start and names itself; none of them turns the throttle off.</summary>
public sealed class ClientThrottleSettingsTests
{
    [Theory]
    [InlineData("FreeFailures", "-1")]
    [InlineData("FreeFailures", "1001")]
    [InlineData("MaxBlockSeconds", "0")]
    [InlineData("WindowSeconds", "86401")]
    public async Task A_throttle_setting_out_of_range_stops_the_start_and_names_itself(string setting, string value)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { [$"Tessera:ApiCredentials:Throttle:{setting}"] = value });
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains($"Tessera:ApiCredentials:Throttle:{setting}", failure.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_no_free_failures_the_first_failure_blocks()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:ApiCredentials:Throttle:FreeFailures"] = "0" }).Started();
        using var client = app.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, "wrong")).StatusCode);
        var blocked = await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.Equal("2", blocked.Headers.GetValues("Retry-After").Single());
        app.Clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(HttpStatusCode.OK, (await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret)).StatusCode);
    }
}

/// <summary>A Kestrel-served host that trusts loopback as its proxy, so a test sets the client's address with X-Forwarded-For.</summary>
public abstract class ProxiedHost(string provider) : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> Proxies = new Dictionary<string, string?> { [Server.Http.TrustedProxies.Setting] = "127.0.0.1" };

    public TesseraApp App { get; private set; } = null!;

    public Task InitializeAsync()
    {
        App = new TesseraApp(TestDatabase.Create(provider), Proxies, kestrel: true).Started();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
            await App.Database.DisposeAsync();
        }
    }
}

public sealed class SqliteProxiedHost() : ProxiedHost("sqlite");

public sealed class PostgresProxiedHost() : ProxiedHost("postgres");
