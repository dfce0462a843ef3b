using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ApiCredentials;

public sealed class SqliteCredentialApiTests(SqliteHost host) : CredentialApiTests<SqliteHost>(host);

public sealed class PostgresCredentialApiTests(PostgresHost host) : CredentialApiTests<PostgresHost>(host);

/// <summary>
/// The credentials API: an API user's named secrets and public keys are listed without secrets, added (a generated
/// secret shown once), deleted, refused clearly when malformed, and managed only within the delegation rules.
/// </summary>
public abstract class CredentialApiTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_generated_secret_is_returned_once_gets_a_token_and_is_never_listed()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, username, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var expires = DateTime.UtcNow.AddDays(90);

        var response = await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "erp-2027", type = "secret", expiresAt = expires });
        var created = await Expect.ResponseAsync(response, HttpStatusCode.Created);
        var secret = created.GetProperty("secret").GetString()!;
        var credentialId = created.GetProperty("id").GetGuid();
        Assert.Matches("^tsr_[A-Za-z0-9_-]{43}$", secret);
        Assert.Equal(32, Base64UrlEncoder.DecodeBytes(secret[4..]).Length);
        Assert.Equal($"/api/v1/users/{id}/credentials/{credentialId}", response.Headers.Location?.ToString());
        Assert.Equal("secret", created.GetProperty("type").GetString());
        Assert.Equal("erp-2027", created.GetProperty("name").GetString());
        Assert.Equal(TesseraApp.ApiClientId, created.GetProperty("createdBy").GetString());
        Assert.False(created.GetProperty("expired").GetBoolean());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("lastUsedAt").ValueKind);

        Assert.True(await DelegationArrange.SecretWorksAsync(App, username, secret));

        var listResponse = await admin.GetAsync($"/api/v1/users/{id}/credentials");
        var listText = await listResponse.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, listResponse.StatusCode);
        Assert.DoesNotContain(secret, listText, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[4..20], listText, StringComparison.Ordinal);
        var items = JsonDocument.Parse(listText).RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["initial", "erp-2027"], items.Select(i => i.GetProperty("name").GetString()));
        Assert.All(items, i => Assert.False(i.TryGetProperty("secret", out _)));
        var listed = items.Single(i => i.GetProperty("id").GetGuid() == credentialId);
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("lastUsedAt").ValueKind);

        await using var scope = App.Scope(out var db);
        var stored = await db.ApiCredentials.AsNoTracking().SingleAsync(c => c.Id == credentialId);
        Assert.StartsWith("sha256:", stored.SecretHash, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, stored.SecretHash!, StringComparison.Ordinal);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "credential.created" && a.TargetId == id.ToString() && a.Details!.Contains(credentialId.ToString())));
        Assert.False(await db.AuditEvents.AnyAsync(a => a.Details != null && a.Details.Contains(secret)));
    }

    [Fact]
    public async Task Public_keys_are_taken_as_JWK_or_PEM_and_listed_with_their_thumbprint()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rsaJwk = RsaJwk(rsa);

        var byJwk = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "rsa", type = "public_key", jwk = rsaJwk }), HttpStatusCode.Created);
        Assert.Equal("RSA 2048", byJwk.GetProperty("keyType").GetString());
        var thumbprint = byJwk.GetProperty("thumbprint").GetString();
        Assert.Equal(thumbprint, byJwk.GetProperty("jwk").GetProperty("kid").GetString());
        Assert.Equal(rsaJwk["n"], byJwk.GetProperty("jwk").GetProperty("n").GetString());
        Assert.False(byJwk.TryGetProperty("secret", out _));

        var byPem = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "ec", type = "public_key", pem = ec.ExportSubjectPublicKeyInfoPem() }), HttpStatusCode.Created);
        Assert.Equal("EC P-256", byPem.GetProperty("keyType").GetString());
        Assert.Equal("P-256", byPem.GetProperty("jwk").GetProperty("crv").GetString());

        // The same key again, as a PEM this time, is the same key.
        await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "rsa-again", type = "public_key", jwk = rsa.ExportSubjectPublicKeyInfoPem() }), HttpStatusCode.Conflict, "duplicate_key");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "RSA", type = "secret" }), HttpStatusCode.Conflict, "duplicate_name");
    }

    public static TheoryData<string, string> RefusedKeys()
    {
        using var rsa = RSA.Create(2048);
        using var weak = RSA.Create(1024);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var privateJwk = RsaJwk(rsa);
        var p = rsa.ExportParameters(true);
        privateJwk["d"] = Base64UrlEncoder.Encode(p.D);
        return new()
        {
            { JsonSerializer.Serialize(privateJwk), "private_key_refused" },
            { JsonSerializer.Serialize(rsa.ExportPkcs8PrivateKeyPem()), "private_key_refused" },
            { JsonSerializer.Serialize(ec.ExportECPrivateKeyPem()), "private_key_refused" },
            { JsonSerializer.Serialize(RsaJwk(weak)), "weak_key" },
            { JsonSerializer.Serialize(p384.ExportSubjectPublicKeyInfoPem()), "unsupported_key" },
            { """{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}""", "unsupported_key" },
            { """{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}""", "unsupported_key" },
            { """{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"HS256"}""", "unsupported_key" },
            { """{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}""", "invalid_key" },
            { "\"-----BEGIN PUBLIC KEY-----\\nbm90IGEga2V5\\n-----END PUBLIC KEY-----\"", "invalid_key" },
            { "\"not a key\"", "invalid_key" },
            { "42", "invalid_key" },
        };
    }

    [Theory]
    [MemberData(nameof(RefusedKeys))]
    public async Task A_key_that_is_private_weak_foreign_or_malformed_is_refused_and_nothing_is_stored(string jwk, string code)
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var body = $$"""{"name":"key","type":"public_key","jwk":{{jwk}}}""";
        var problem = await Expect.ProblemAsync(await admin.PostAsync($"/api/v1/users/{id}/credentials", new StringContent(body, System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, code);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        await using var scope = App.Scope(out var db);
        Assert.Equal(["initial"], await db.ApiCredentials.Where(c => c.UserId == id).Select(c => c.Name).ToListAsync());
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_a_clear_problem()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var path = $"/api/v1/users/{id}/credentials";
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { type = "secret" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = new string('n', 101), type = "secret" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "tab\there", type = "secret" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "x", type = "password" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "x", type = "secret", expiresAt = DateTime.UtcNow.AddMinutes(-1) }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "x", type = "secret", pem = "-----BEGIN PUBLIC KEY-----" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "Initial", type = "secret" }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync(path, new { name = "x", type = "public_key" }), HttpStatusCode.BadRequest, "invalid_key");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/users/{Guid.NewGuid()}/credentials", new { name = "x", type = "secret" }), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/users/{Guid.NewGuid()}/credentials"), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.DeleteAsync($"{path}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "not_found");

        var backOffice = await Seed.UserAsync(App, UserType.BackOffice, null);
        await Expect.ProblemAsync(await admin.PostAsJsonAsync($"/api/v1/users/{backOffice.Id}/credentials", new { name = "x", type = "secret" }), HttpStatusCode.Conflict, "not_api_user");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/users/{backOffice.Id}/credentials"), HttpStatusCode.Conflict, "not_api_user");

        await using var scope = App.Scope(out var db);
        Assert.Equal(["initial"], await db.ApiCredentials.Where(c => c.UserId == id).Select(c => c.Name).ToListAsync());
    }

    [Fact]
    public async Task Deleting_a_credential_ends_it_and_leaves_the_others_working()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, username, initial) = await DelegationArrange.ApiUserAsync(admin, []);
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "second", type = "secret" }), HttpStatusCode.Created);
        var secret = created.GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/users/{id}/credentials/{created.GetProperty("id").GetGuid()}")).StatusCode);

        Assert.False(await DelegationArrange.SecretWorksAsync(App, username, secret));
        Assert.True(await DelegationArrange.SecretWorksAsync(App, username, initial));
        await using var scope = App.Scope(out var db);
        Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "credential.deleted" && a.TargetId == id.ToString()));
    }

    [Fact]
    public async Task Setting_the_password_of_an_API_user_replaces_initial_and_leaves_its_other_credentials()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (id, username, old) = await DelegationArrange.ApiUserAsync(admin, []);
        var other = (await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "other", type = "secret" }), HttpStatusCode.Created)).GetProperty("secret").GetString()!;
        Guid before;
        await using (var scope = App.Scope(out var db))
        {
            before = await db.ApiCredentials.Where(c => c.UserId == id && c.Name == "initial").Select(c => c.Id).SingleAsync();
            Assert.Null((await db.Users.AsNoTracking().SingleAsync(u => u.Id == id)).PasswordHash);
        }

        var next = DelegationArrange.Secret();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.PostAsJsonAsync($"/api/v1/users/{id}/password", new { newPassword = next, confirmPassword = next })).StatusCode);

        Assert.False(await DelegationArrange.SecretWorksAsync(App, username, old));
        Assert.True(await DelegationArrange.SecretWorksAsync(App, username, next));
        Assert.True(await DelegationArrange.SecretWorksAsync(App, username, other));
        var names = (await admin.GetFromJsonAsync<JsonElement>($"/api/v1/users/{id}/credentials")).GetProperty("items").EnumerateArray()
            .Select(i => (Name: i.GetProperty("name").GetString(), Id: i.GetProperty("id").GetGuid())).ToList();
        Assert.Equal(["initial", "other"], names.Select(n => n.Name).Order(StringComparer.Ordinal));
        Assert.NotEqual(before, names.Single(n => n.Name == "initial").Id);
    }

    [Fact]
    public async Task Nobody_mints_a_credential_for_a_client_that_outranks_them_and_no_client_manages_its_own()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var manager = await DelegationArrange.ActorAsync(App, admin, [Privileges.ManageUsers, Privileges.ViewUsers]);
        var (strongId, _, _) = await DelegationArrange.ApiUserAsync(admin, ["Administrator"]);
        var (weakId, weakName, _) = await DelegationArrange.ApiUserAsync(admin, []);

        await DelegationArrange.RefusedAsync(await manager.Client.PostAsJsonAsync($"/api/v1/users/{strongId}/credentials", new { name = "mine-now", type = "secret" }),
            HttpStatusCode.Forbidden, "target_outranks_actor");
        var strongCredential = await FirstCredentialAsync(strongId);
        await DelegationArrange.RefusedAsync(await manager.Client.DeleteAsync($"/api/v1/users/{strongId}/credentials/{strongCredential}"),
            HttpStatusCode.Forbidden, "target_outranks_actor");
        await Expect.ProblemAsync(await manager.Client.PostAsJsonAsync($"/api/v1/users/{manager.Id}/credentials", new { name = "mine", type = "secret" }), HttpStatusCode.Conflict, "self_lockout");

        // Within reach: a client holding nothing the manager lacks.
        var created = await Expect.ResponseAsync(await manager.Client.PostAsJsonAsync($"/api/v1/users/{weakId}/credentials", new { name = "by-manager", type = "secret" }), HttpStatusCode.Created);
        Assert.Equal(manager.Username, created.GetProperty("createdBy").GetString());
        Assert.True(await DelegationArrange.SecretWorksAsync(App, weakName, created.GetProperty("secret").GetString()!));

        await using var scope = App.Scope(out var db);
        Assert.Equal(["initial"], await db.ApiCredentials.Where(c => c.UserId == strongId).Select(c => c.Name).ToListAsync());
        Assert.Equal(["initial"], await db.ApiCredentials.Where(c => c.UserId == manager.Id).Select(c => c.Name).ToListAsync());
        Assert.True(await db.AuditEvents.AnyAsync(a => a.Action == "access.denied" && a.TargetId == strongId.ToString() && a.Details!.Contains("credential.created")));
    }

    [Fact]
    public async Task Listing_needs_VIEW_USERS_and_changing_needs_MANAGE_USERS()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var viewer = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewUsers]);
        var (id, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync($"/api/v1/users/{id}/credentials")).StatusCode);
        await Expect.ProblemAsync(await viewer.Client.PostAsJsonAsync($"/api/v1/users/{id}/credentials", new { name = "x", type = "secret" }), HttpStatusCode.Forbidden, "forbidden");
        await Expect.ProblemAsync(await viewer.Client.DeleteAsync($"/api/v1/users/{id}/credentials/{await FirstCredentialAsync(id)}"), HttpStatusCode.Forbidden, "forbidden");
    }

    private async Task<Guid> FirstCredentialAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        return await db.ApiCredentials.Where(c => c.UserId == userId).Select(c => c.Id).FirstAsync();
    }

    private static Dictionary<string, string> RsaJwk(RSA rsa)
    {
        var p = rsa.ExportParameters(false);
        return new() { ["kty"] = "RSA", ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent) };
    }
}
