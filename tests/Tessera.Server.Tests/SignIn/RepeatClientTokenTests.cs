using System.IdentityModel.Tokens.Jwt;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Users;
using Tessera.Server.SignIn;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.SignIn;

public sealed class SqliteRepeatClientTokenTests(SqliteHost host) : RepeatClientTokenTests<SqliteHost>(host);

public sealed class PostgresRepeatClientTokenTests(PostgresHost host) : RepeatClientTokenTests<PostgresHost>(host);

/// <summary>
/// A repeat client's plain client_secret_post request is answered before OpenIddict (<see cref="RepeatClientTokens"/>):
/// the same token and answer as the full path, audited alike, and never where the full path would refuse.
/// </summary>
public abstract class RepeatClientTokenTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Secret = "Api-User-Secret-123456";
    private TesseraApp App => host.App;
    private RepeatClientTokens Path => App.Services.GetRequiredService<RepeatClientTokens>();

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, params (string Name, string Value)[] fields)
        => client.PostAsync("/connect/token", new FormUrlEncodedContent(fields.Select(f => KeyValuePair.Create(f.Name, f.Value))));

    private static (string, string)[] Form(string clientId, string secret, string? scope = "api")
        => scope is null
            ? [("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", secret)]
            : [("grant_type", "client_credentials"), ("client_id", clientId), ("client_secret", secret), ("scope", scope)];

    /// <summary>The answer and its token, and whether the repeat path answered it.</summary>
    private async Task<(HttpResponseMessage Response, JsonElement Body, bool Repeat)> TokenAsync(HttpClient client, params (string, string)[] form)
    {
        var before = Path.Served;
        var response = await PostAsync(client, form);
        var body = await Seed.JsonAsync(response);
        return (response, body, Path.Served > before);
    }

    [Theory]
    [InlineData("api")]
    [InlineData(null)]
    public async Task A_repeat_token_is_the_full_paths_token_claim_for_claim(string? scope)
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System", "Administrator");
        using var client = App.Client();
        var first = await TokenAsync(client, Form(user.Username, Secret, scope));
        var second = await TokenAsync(client, Form(user.Username, Secret, scope));
        Assert.True(first.Response.StatusCode == HttpStatusCode.OK, first.Body.ToString());
        Assert.True(second.Response.StatusCode == HttpStatusCode.OK, second.Body.ToString());
        Assert.False(first.Repeat);
        Assert.True(second.Repeat);

        // The answer: the same members, type and lifetime, and the same caching headers.
        Assert.Equal(first.Body.EnumerateObject().Select(p => p.Name).Order(), second.Body.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(first.Body.GetProperty("token_type").GetString(), second.Body.GetProperty("token_type").GetString());
        // OpenIddict counts the seconds left after the token was made (899 of 900); the lifetime itself is the same.
        Assert.InRange(second.Body.GetProperty("expires_in").GetInt32() - first.Body.GetProperty("expires_in").GetInt32(), 0, 1);
        foreach (var header in new[] { "Cache-Control", "Pragma" })
        {
            Assert.Equal(first.Response.Headers.GetValues(header), second.Response.Headers.GetValues(header));
        }

        Assert.Equal(first.Response.Content.Headers.ContentType?.ToString(), second.Response.Content.Headers.ContentType?.ToString());

        // The token: the same header and claims but its id and times, the same lifetime.
        var handler = new JwtSecurityTokenHandler();
        var a = handler.ReadJwtToken(first.Body.GetProperty("access_token").GetString());
        var b = handler.ReadJwtToken(second.Body.GetProperty("access_token").GetString());
        Assert.Equal(a.Header.OrderBy(h => h.Key).Select(h => $"{h.Key}={h.Value}"), b.Header.OrderBy(h => h.Key).Select(h => $"{h.Key}={h.Value}"));
        string[] varying = ["jti", "iat", "exp"];
        static IEnumerable<string> Claims(JwtSecurityToken t, string[] skip)
            => t.Claims.Where(c => !skip.Contains(c.Type)).Select(c => $"{c.Type}={c.Value}").Order(StringComparer.Ordinal);
        Assert.Equal(Claims(a, varying), Claims(b, varying));
        Assert.Contains(b.Claims, c => c.Type == "role" && c.Value == "Administrator");
        Assert.Contains(b.Claims, c => c.Type == "privilege" && c.Value == "MANAGE_USERS");
        Assert.Equal(scope is not null, b.Claims.Any(c => c.Type == "scope"));
        Assert.Equal(a.ValidTo - a.IssuedAt, b.ValidTo - b.IssuedAt);
        Assert.InRange((b.IssuedAt - a.IssuedAt).TotalSeconds, 0, 5); // the same clock as OpenIddict's
        Assert.NotEqual(a.Id, b.Id);

        // And it is honoured like any other.
        using var api = Seed.WithBearer(App, b.RawData);
        var me = await Seed.JsonAsync(await api.GetAsync("/api/v1/me"));
        Assert.Equal(user.Id.ToString(), me.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Every_repeat_token_is_audited_as_the_full_path_audits_it()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        for (var i = 0; i < 6; i++)
        {
            var token = await TokenAsync(client, Form(user.Username, Secret));
            Assert.Equal(HttpStatusCode.OK, token.Response.StatusCode);
            Assert.Equal(i > 0, token.Repeat);
        }

        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        var events = await db.AuditEvents.AsNoTracking()
            .Where(a => a.TargetId == user.Id.ToString() && a.Action == "token.client_credentials" && a.Outcome == "success")
            .OrderBy(a => a.Id).ToListAsync();
        Assert.Equal(6, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal(events[0].Details, e.Details);
            Assert.Equal(user.Id, e.ActorId);
            Assert.Equal(user.Username, e.ActorName);
            Assert.Equal(events[0].ClientIp, e.ClientIp);
            Assert.Equal(events[0].UserAgent, e.UserAgent);
        });
        Assert.Contains("\"method\":\"client_secret\"", events[0].Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_or_standing_changed_through_the_API_ends_repeat_tokens_at_once()
    {
        const string next = "Another-Secret-987654";
        using var admin = await Seed.AdminApiAsync(App);
        using var client = App.Client();

        // A new password: the old secret is refused on the very next request.
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Response.IsSuccessStatusCode);
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        var set = await admin.PostAsJsonAsync($"/api/v1/users/{user.Id}/password", new { newPassword = next, confirmPassword = next });
        Assert.True(set.IsSuccessStatusCode, await set.Content.ReadAsStringAsync());
        var old = await TokenAsync(client, Form(user.Username, Secret));
        Assert.Equal(HttpStatusCode.Unauthorized, old.Response.StatusCode);
        Assert.Equal("invalid_client", old.Body.GetProperty("error").GetString());
        Assert.False(old.Repeat);

        // A generated secret deleted: refused at once, the other secret still served.
        var created = await Seed.JsonAsync(await admin.PostAsJsonAsync($"/api/v1/users/{user.Id}/credentials", new { name = "rotating", type = "secret" }));
        var generated = created.GetProperty("secret").GetString()!;
        Assert.True((await TokenAsync(client, Form(user.Username, generated))).Response.IsSuccessStatusCode);
        Assert.True((await TokenAsync(client, Form(user.Username, generated))).Repeat);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/users/{user.Id}/credentials/{created.GetProperty("id").GetString()}")).StatusCode);
        var deleted = await TokenAsync(client, Form(user.Username, generated));
        Assert.Equal("invalid_client", deleted.Body.GetProperty("error").GetString());
        Assert.False(deleted.Repeat);

        // Disabled: refused at once.
        Assert.True((await TokenAsync(client, Form(user.Username, next))).Response.IsSuccessStatusCode);
        Assert.True((await TokenAsync(client, Form(user.Username, next))).Repeat);
        Assert.True((await admin.PatchAsJsonAsync($"/api/v1/users/{user.Id}", new { status = "disabled" })).IsSuccessStatusCode);
        var disabled = await TokenAsync(client, Form(user.Username, next));
        Assert.Equal("invalid_client", disabled.Body.GetProperty("error").GetString());
        Assert.False(disabled.Repeat);
    }

    [Fact]
    public async Task A_throttled_pair_is_refused_even_with_the_right_secret()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Response.IsSuccessStatusCode);
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        for (var i = 0; i < 6; i++)
        {
            var wrong = await TokenAsync(client, Form(user.Username, "Not-The-Secret-" + i));
            Assert.False(wrong.Repeat);
            Assert.False(wrong.Response.IsSuccessStatusCode);
        }

        var blocked = await TokenAsync(client, Form(user.Username, Secret));
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.Response.StatusCode);
        Assert.False(blocked.Repeat);
    }

    [Fact]
    public async Task Anything_but_the_plain_request_goes_the_full_way_and_is_answered_as_before()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Response.IsSuccessStatusCode);

        // An unknown scope: the full path's invalid_scope.
        var scope = await TokenAsync(client, Form(user.Username, Secret, "api admin"));
        Assert.False(scope.Repeat);
        Assert.Equal("invalid_scope", scope.Body.GetProperty("error").GetString());

        // A parameter twice: the full path's invalid_request, whatever the repeat path knows of the client.
        var twice = await TokenAsync(client, [.. Form(user.Username, Secret), ("client_id", user.Username)]);
        Assert.False(twice.Repeat);
        Assert.Equal("invalid_request", twice.Body.GetProperty("error").GetString());

        // Another parameter: the full path answers, here with a token.
        var other = await TokenAsync(client, [.. Form(user.Username, Secret), ("state", "x")]);
        Assert.False(other.Repeat);
        Assert.True(other.Response.IsSuccessStatusCode, other.Body.ToString());

        // A control character in the secret: the full path's refusal.
        var control = await TokenAsync(client, Form(user.Username, Secret + "\u0001"));
        Assert.False(control.Repeat);
        Assert.Equal("invalid_request", control.Body.GetProperty("error").GetString());

        // Another charset, or no form at all: the full path decodes it (here: the secret is ASCII, so a token).
        var latin1 = new StringContent($"grant_type=client_credentials&client_id={Uri.EscapeDataString(user.Username)}&client_secret={Uri.EscapeDataString(Secret)}",
            System.Text.Encoding.Latin1, "application/x-www-form-urlencoded");
        var before = Path.Served;
        var charset = await client.PostAsync("/connect/token", latin1);
        Assert.True(charset.IsSuccessStatusCode, await charset.Content.ReadAsStringAsync());
        Assert.Equal(before, Path.Served);

        // And the plain request is served again.
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
    }

    [Fact]
    public async Task The_use_is_still_written_once_a_minute_by_the_full_path()
    {
        var user = await Seed.UserAsync(App, UserType.Api, Secret, "System");
        using var client = App.Client();
        Assert.False((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        DateTime? first;
        await using (var scope = App.Scope(out var db))
        {
            first = (await db.Users.AsNoTracking().SingleAsync(u => u.Id == user.Id)).LastSignInAt;
        }

        App.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.False((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        Assert.True((await TokenAsync(client, Form(user.Username, Secret))).Repeat);
        await using (var scope = App.Scope(out var db))
        {
            var stored = await db.Users.AsNoTracking().SingleAsync(u => u.Id == user.Id);
            Assert.True(stored.LastSignInAt > first, $"{stored.LastSignInAt:O} after {first:O}");
            var initial = await db.ApiCredentials.AsNoTracking().SingleAsync(c => c.UserId == user.Id && c.Name == "initial");
            Assert.True(initial.LastUsedAt > first);
        }
    }
}
