using System.IdentityModel.Tokens.Jwt;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteTokenTests(SqliteHost host) : TokenTests<SqliteHost>(host);

public sealed class PostgresTokenTests(PostgresHost host) : TokenTests<PostgresHost>(host);

/// <summary>API users get OAuth 2.0 tokens with the client credentials grant, and the REST API honours them.</summary>
public abstract class TokenTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Secret = "Api-User-Secret-123456";
    private TesseraApp App => host.App;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_API_user_gets_a_token_with_either_client_authentication_method_and_calls_me(bool basic)
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        var token = await Seed.TokenAsync(client, user.Username, Secret, basic);

        using var api = Seed.WithBearer(App, token);
        var response = await api.GetAsync("/api/v1/me");
        var me = await Seed.JsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, me.ToString());
        Assert.Equal(user.Id.ToString(), me.GetProperty("id").GetString());
        Assert.Equal(user.Username, me.GetProperty("username").GetString());
        Assert.Equal("api", me.GetProperty("type").GetString());
        Assert.Equal(["System"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task The_token_is_a_signed_RFC_9068_JWT_with_the_users_claims()
    {
        using var client = App.Client();
        var token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        var jwt = new JwtSecurityTokenHandler().ReadJwtToken(token);
        Assert.Equal("at+jwt", jwt.Header.Typ);
        Assert.Equal("ES256", jwt.Header.Alg);
        Assert.Contains("tessera-api", jwt.Audiences);
        Assert.Equal(TesseraApp.ApiClientId, jwt.Claims.Single(c => c.Type == "preferred_username").Value);
        Assert.Equal("api", jwt.Claims.Single(c => c.Type == "user_type").Value);
        Assert.Contains(jwt.Claims, c => c.Type == "role" && c.Value == "Administrator");
        Assert.Contains(jwt.Claims, c => c.Type == "privilege" && c.Value == "MANAGE_USERS");
        Assert.True(Guid.TryParse(jwt.Subject, out _));
        Assert.InRange(jwt.ValidTo - jwt.IssuedAt, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(16));

        var discovery = JsonDocument.Parse(await client.GetStringAsync("/.well-known/openid-configuration")).RootElement;
        Assert.EndsWith("/connect/token", discovery.GetProperty("token_endpoint").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("/connect/introspect", discovery.GetProperty("introspection_endpoint").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("/connect/revoke", discovery.GetProperty("revocation_endpoint").GetString(), StringComparison.Ordinal);
        var methods = discovery.GetProperty("token_endpoint_auth_methods_supported").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Contains("client_secret_basic", methods);
        Assert.Contains("client_secret_post", methods);
        Assert.Contains("private_key_jwt", methods);
        var jwks = JsonDocument.Parse(await client.GetStringAsync(new Uri(discovery.GetProperty("jwks_uri").GetString()!).PathAndQuery)).RootElement;
        Assert.Contains(jwks.GetProperty("keys").EnumerateArray(), k => k.GetProperty("kid").GetString() == jwt.Header.Kid);
    }

    [Fact]
    public async Task Signing_keys_persist_so_tokens_survive_a_restart()
    {
        using var client = App.Client();
        var token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        await using var second = new TesseraApp(App.Database).Started();
        using var api = Seed.WithBearer(second, token);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
    }

    [Fact]
    public async Task RS256_can_be_chosen_and_tokens_of_either_algorithm_stay_valid_across_the_switch()
    {
        using var client = App.Client();
        var es256 = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        await using var rsaApp = new TesseraApp(App.Database, new Dictionary<string, string?> { ["Tessera:Tokens:SigningAlgorithm"] = "RS256" }).Started();
        using var rsaClient = rsaApp.Client();
        var rs256 = await Seed.TokenAsync(rsaClient, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        Assert.Equal("ES256", new JwtSecurityTokenHandler().ReadJwtToken(es256).Header.Alg);
        Assert.Equal("RS256", new JwtSecurityTokenHandler().ReadJwtToken(rs256).Header.Alg);

        // Both keys are published and accepted by either configuration.
        var jwks = JsonDocument.Parse(await client.GetStringAsync("/.well-known/jwks")).RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.Contains(jwks, k => k.GetProperty("kty").GetString() == "EC" && k.GetProperty("crv").GetString() == "P-256");
        Assert.Contains(jwks, k => k.GetProperty("kty").GetString() == "RSA");
        foreach (var (app, token) in new[] { (App, rs256), (rsaApp, es256) })
        {
            using var api = Seed.WithBearer(app, token);
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
        }

        await using var wrong = new TesseraApp(App.Database, new Dictionary<string, string?> { ["Tessera:Tokens:SigningAlgorithm"] = "HS256" });
        Assert.ThrowsAny<Exception>(() => wrong.Started());
    }

    [Fact]
    public async Task Everyone_but_an_active_API_user_is_refused_with_the_same_invalid_client_answer()
    {
        var backOffice = await Seed.UserAsync(App, UserType.BackOffice, Secret, "Administrator");
        var disabled = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        await Seed.UpdateUserAsync(App, disabled.Id, u => u.Status = UserStatus.Disabled);
        var sso = await Seed.UserAsync(App, UserType.Api, Secret, CredentialMode.Sso, null, "System");

        using var client = App.Client();
        var answers = new List<string>();
        foreach (var (id, secret) in new[] { (backOffice.Username, Secret), (disabled.Username, Secret), (sso.Username, Secret), (Usernames.Reserved, Secret), ("nobody.here", Secret), (TesseraApp.ApiClientId, "wrong-secret") })
        {
            var response = await Seed.RequestTokenAsync(client, id, secret);
            var body = await Seed.JsonAsync(response);
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"{id}: {(int)response.StatusCode} {body}");
            Assert.Equal("invalid_client", body.GetProperty("error").GetString());
            answers.Add($"{(int)response.StatusCode} {body.GetProperty("error_description").GetString()}");
        }

        Assert.Single(answers.Distinct());
    }

    [Fact]
    public async Task Tampered_and_missing_tokens_get_401_problems()
    {
        using var client = App.Client();
        var token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        var parts = token.Split('.');
        var payload = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]))!;
        payload["preferred_username"] = JsonSerializer.SerializeToElement("someone.else");
        var tampered = $"{parts[0]}.{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload))}.{parts[2]}";

        foreach (var bearer in new[] { tampered, token[..^4] + "AAAA", "not-a-token" })
        {
            using var api = Seed.WithBearer(App, bearer);
            await AssertUnauthorizedAsync(await api.GetAsync("/api/v1/me"));
        }

        await AssertUnauthorizedAsync(await client.GetAsync("/api/v1/me"));
    }

    [Fact]
    public async Task An_expired_token_gets_401()
    {
        await using var app = new TesseraApp(App.Database).Started();
        using var client = app.Client();
        var token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        using var api = Seed.WithBearer(app, token);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
        app.Clock.Advance(TimeSpan.FromMinutes(16));
        await AssertUnauthorizedAsync(await api.GetAsync("/api/v1/me"));
    }

    [Fact]
    public async Task A_revoked_token_gets_401_and_introspects_as_inactive()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        var token = await Seed.TokenAsync(client, user.Username, Secret);
        Assert.True((await IntrospectAsync(client, user.Username, token)).GetProperty("active").GetBoolean());

        // Used once first, so that the revocation must also end a token the service has verified before.
        using var api = Seed.WithBearer(App, token);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);

        var revoke = new HttpRequestMessage(HttpMethod.Post, "/connect/revoke")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = user.Username, ["client_secret"] = Secret }),
        };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(revoke)).StatusCode);

        await AssertUnauthorizedAsync(await api.GetAsync("/api/v1/me"));
        Assert.False((await IntrospectAsync(client, user.Username, token)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task A_disabled_users_token_stops_working_within_the_documented_bound()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        using var api = Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Secret));
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);

        // Changed behind the service's back (as another instance would): seen within CallerCacheSeconds (5 s).
        await Seed.UpdateUserAsync(App, user.Id, u => u.Status = UserStatus.Disabled);
        App.Clock.Advance(TimeSpan.FromSeconds(5.5)); // past CallerCacheSeconds: the time bound, when no notification says so
        await AssertUnauthorizedAsync(await api.GetAsync("/api/v1/me"));
    }

    [Fact]
    public async Task Revoke_tokens_ends_every_token_of_the_user_at_once()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        using var first = Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Secret));
        using var second = Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Secret, basic: false));
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/api/v1/me")).StatusCode);

        using var admin = await Seed.AdminApiAsync(App);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsync($"/api/v1/users/{user.Id}/revoke-tokens", null)).StatusCode);

        await AssertUnauthorizedAsync(await first.GetAsync("/api/v1/me"));
        await AssertUnauthorizedAsync(await second.GetAsync("/api/v1/me"));
        Assert.Equal(HttpStatusCode.OK, (await Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Secret)).GetAsync("/api/v1/me")).StatusCode);
    }

    [Fact]
    public async Task Every_repeat_token_is_audited_once_its_batch_is_written_and_a_graceful_stop_writes_what_is_queued()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using (var client = App.Client())
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
            }
        }

        await App.AuditWrittenAsync();
        Assert.Equal(10, await TokenSuccessEventsAsync(user.Id));

        // A second instance on the same database, stopped right after answering: what it queued is written on the way out.
        var second = new TesseraApp(App.Database).Started();
        using (var client = second.Client())
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
            }
        }

        await second.DisposeAsync();
        Assert.Equal(15, await TokenSuccessEventsAsync(user.Id));
    }

    [Fact]
    public async Task A_password_set_through_the_API_ends_the_remembered_secret_at_once()
    {
        const string next = "Another-Secret-987654";
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        using var api = await Seed.AdminApiAsync(App);
        var set = await api.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = next, confirmPassword = next });
        Assert.True(set.IsSuccessStatusCode, $"{(int)set.StatusCode} {await set.Content.ReadAsStringAsync()}");

        Assert.False((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, next)).IsSuccessStatusCode);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, next)).IsSuccessStatusCode);
        await App.AuditWrittenAsync();
        Assert.Equal(4, await TokenSuccessEventsAsync(user.Id));
    }

    private async Task<int> TokenSuccessEventsAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync(a => a.TargetId == userId.ToString() && a.Action == "token.client_credentials" && a.Outcome == "success");
    }

    [Fact]
    public async Task Revoke_tokens_needs_MANAGE_USERS()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        using var api = Seed.WithBearer(App, await Seed.TokenAsync(client, user.Username, Secret));
        var response = await api.PostAsync($"/api/v1/users/{user.Id}/revoke-tokens", null);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("forbidden", (await Seed.JsonAsync(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Wrong_secrets_never_lock_an_API_client_and_each_is_audited_as_token_failed()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        for (var i = 0; i < 5; i++)
        {
            Assert.False((await Seed.RequestTokenAsync(client, user.Username, "wrong-" + i)).IsSuccessStatusCode);
        }

        // Anyone who knows a client_id could otherwise cut the integration off: the right secret still works.
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        await using var scope = App.Scope(out var db);
        var stored = await db.Users.AsNoTracking().SingleAsync(u => u.Id == user.Id);
        Assert.Equal(UserStatus.Active, stored.Status);
        Assert.Equal(0, stored.FailedSignInCount);
        Assert.Equal(5, await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "token.failed" && a.Outcome == "failure" && a.Details!.Contains("wrong_secret")));
        Assert.Equal(0, await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "user.locked"));
    }

    [Fact]
    public async Task Concurrent_wrong_passwords_each_count_so_a_burst_locks_a_BackOffice_user_once()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Secret, "Administrator");

        // Twelve guesses at once against a threshold of five: counted one by one, they must lock the user.
        // Enough pool threads that all twelve read the user before any of them has written a count.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var browser = App.Client(cookies: true);
            return await Seed.SignInAsync(browser, user.Username, "wrong-" + i);
        }));
        Assert.All(attempts, a => Assert.NotEqual(HttpStatusCode.Redirect, a.StatusCode));
        Assert.NotEqual(HttpStatusCode.Redirect, (await Seed.SignInAsync(App.Client(cookies: true), user.Username, Secret)).StatusCode);

        await using var scope = App.Scope(out var db);
        var stored = await db.Users.AsNoTracking().SingleAsync(u => u.Id == user.Id);
        Assert.Equal(UserStatus.Locked, stored.Status);
        Assert.NotNull(stored.LockedUntil);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "user.locked"));
        var refusals = await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "signin.password" && a.Outcome == "failure");
        Assert.Equal(13, refusals);
    }

    [Fact]
    public async Task A_repeat_client_skips_the_hash_until_its_password_changes_and_LastSignInAt_is_written_once_a_minute()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        DateTime? firstSignIn;
        await using (var scope = App.Scope(out var db))
        {
            firstSignIn = (await db.Users.AsNoTracking().SingleAsync(u => u.Id == user.Id)).LastSignInAt;
        }

        Assert.NotNull(firstSignIn);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        Assert.False((await Seed.RequestTokenAsync(client, user.Username, "Not-The-Secret-1")).IsSuccessStatusCode);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);

        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.Users.SingleAsync(u => u.Id == user.Id);
            Assert.Equal(firstSignIn, stored.LastSignInAt);
            await App.AuditWrittenAsync();
            Assert.Equal(3, await db.AuditEvents.CountAsync(a => a.TargetId == user.Id.ToString() && a.Action == "token.client_credentials" && a.Outcome == "success"));

            // A new hash alone (stamp untouched) is enough to make the remembered digest useless.
            var initial = await db.ApiCredentials.SingleAsync(c => c.UserId == user.Id && c.Name == "initial");
            initial.SecretHash = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IPasswordHasher<Tessera.Server.Storage.User>>().HashPassword(stored, "Another-Secret-987654");
            await db.SaveChangesAsync();
        }

        Assert.False((await Seed.RequestTokenAsync(client, user.Username, Secret)).IsSuccessStatusCode);
        Assert.True((await Seed.RequestTokenAsync(client, user.Username, "Another-Secret-987654")).IsSuccessStatusCode);
    }

    private static async Task<JsonElement> IntrospectAsync(HttpClient client, string clientId, string token)
    {
        var response = await client.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = token, ["client_id"] = clientId, ["client_secret"] = Secret,
        }));
        var body = await Seed.JsonAsync(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        return body;
    }

    private static async Task AssertUnauthorizedAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("unauthorized", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
    }
}

/// <summary>A token signed with Tessera's own key but minted for another audience is refused by the back-office API.</summary>
public sealed class WrongAudienceTests(SqliteHost host) : IClassFixture<SqliteHost>
{
    [Fact]
    public async Task A_validly_signed_token_for_another_audience_gets_401()
    {
        var app = host.App;
        using var client = app.Client();
        var genuine = new JwtSecurityTokenHandler().ReadJwtToken(await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret));

        await using var scope = app.Scope(out var db);
        var protection = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>();
        var (signing, _, _) = Tessera.Server.SignIn.SigningKeyStore.LoadOrCreate(db, protection, TimeProvider.System);
        var claims = genuine.Claims.Where(c => c.Type is not ("aud" or "exp" or "iat" or "nbf" or "jti")).GroupBy(c => c.Type)
            .ToDictionary(g => g.Key, g => g.Count() == 1 ? (object)g.First().Value : g.Select(c => c.Value).ToArray());
        claims["jti"] = Guid.NewGuid().ToString();
        var forged = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = genuine.Issuer,
            Audience = "storefront",
            Claims = claims,
            Expires = DateTime.UtcNow.AddMinutes(5),
            TokenType = "at+jwt",
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(signing, "RS256"),
        });

        using var sameAudience = Seed.WithBearer(app, new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = genuine.Issuer, Audience = "tessera-api", Claims = claims, Expires = DateTime.UtcNow.AddMinutes(5), TokenType = "at+jwt",
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(signing, "RS256"),
        }));
        Assert.Equal(HttpStatusCode.OK, (await sameAudience.GetAsync("/api/v1/me")).StatusCode);

        using var api = Seed.WithBearer(app, forged);
        var response = await api.GetAsync("/api/v1/me");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
