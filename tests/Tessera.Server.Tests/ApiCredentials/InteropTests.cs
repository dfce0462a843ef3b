using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ApiCredentials;

public sealed class SqliteInteropTests(SqliteInteropHost host) : InteropTests<SqliteInteropHost>(host);

public sealed class PostgresInteropTests(PostgresInteropHost host) : InteropTests<PostgresInteropHost>(host);

/// <summary>
/// A standard client library, panva's openid-client (tests/support/openid-client), gets tokens from a Kestrel-served
/// Tessera with an API user's credentials: a generated secret by client_secret_basic and client_secret_post, and keys
/// made in the test by private_key_jwt (RSA 2048 signing RS256, EC P-256 signing ES256). It discovers the issuer and
/// builds every request itself, so these tests catch what Tessera's own hand-made requests would not: a discovery
/// document, an audience or an encoding that only Tessera's tests agree with. Each token then calls the API.
/// </summary>
public abstract class InteropTests<THost>(THost host) : IClassFixture<THost> where THost : InteropHost
{
    private TesseraApp App => host.App;

    /// <summary>What a client is configured with: Tessera's public address, from which it discovers everything else.</summary>
    private string Issuer => App.BaseUrl;

    [Fact]
    public async Task A_generated_secret_gets_tokens_by_client_secret_basic_and_client_secret_post_until_it_is_deleted()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);

        var created = await AddAsync(admin, userId, new { name = "erp-2027", type = "secret", expiresAt = DateTime.UtcNow.AddDays(400) });
        var secret = created.GetProperty("secret").GetString()!;
        Assert.Matches("^tsr_[A-Za-z0-9_-]{43}$", secret);

        foreach (var basic in new[] { true, false })
        {
            var result = await OpenIdClientProcess.SecretAsync(Issuer, clientId, secret, basic);
            Assert.True(result.Succeeded, result.ToString());
            await AssertActsAsAsync(result, userId);
        }

        // Last: the failure is the one request after which nothing else is asked of this client (failures are throttled).
        await DeleteAsync(admin, userId, created);
        AssertRefused(await OpenIdClientProcess.SecretAsync(Issuer, clientId, secret, basic: true));
    }

    [Fact]
    public async Task RSA_and_EC_keys_made_in_the_test_get_tokens_by_private_key_jwt_until_deleted()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (userId, clientId, _) = await DelegationArrange.ApiUserAsync(admin, []);
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        // One public key as a JWK object, the other as a PEM: the two forms an operator pastes.
        var rsaCredential = await AddAsync(admin, userId, new { name = "erp-rsa", type = "public_key", jwk = PublicJwk(rsa) });
        Assert.Equal("RSA 2048", rsaCredential.GetProperty("keyType").GetString());
        var ecCredential = await AddAsync(admin, userId, new { name = "erp-ec", type = "public_key", pem = ec.ExportSubjectPublicKeyInfoPem() });
        Assert.Equal("EC P-256", ecCredential.GetProperty("keyType").GetString());

        // The RSA client names its key by the kid Tessera assigned (the thumbprint); the EC client names none, as
        // openid-client does unless told, so Tessera must find the key among the client's own.
        var kid = rsaCredential.GetProperty("jwk").GetProperty("kid").GetString();
        Assert.Equal(rsaCredential.GetProperty("thumbprint").GetString(), kid);
        using var rsaFile = PrivateJwkFile.Write(PrivateJwk(rsa, kid));
        using var ecFile = PrivateJwkFile.Write(PrivateJwk(ec, kid: null));

        var byRsa = await OpenIdClientProcess.PrivateKeyJwtAsync(Issuer, clientId, rsaFile.Path);
        Assert.True(byRsa.Succeeded, byRsa.ToString());
        await AssertActsAsAsync(byRsa, userId);

        var byEc = await OpenIdClientProcess.PrivateKeyJwtAsync(Issuer, clientId, ecFile.Path);
        Assert.True(byEc.Succeeded, byEc.ToString());
        await AssertActsAsAsync(byEc, userId);

        // Last: the failure is the one request after which nothing else is asked of this client (failures are throttled).
        await DeleteAsync(admin, userId, rsaCredential);
        AssertRefused(await OpenIdClientProcess.PrivateKeyJwtAsync(Issuer, clientId, rsaFile.Path));
    }

    private static async Task<JsonElement> AddAsync(HttpClient admin, Guid userId, object request)
    {
        var response = await admin.PostAsJsonAsync($"/api/v1/users/{userId}/credentials", request);
        var credential = await Expect.ResponseAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/api/v1/users/{userId}/credentials/{credential.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        return credential;
    }

    private static async Task DeleteAsync(HttpClient admin, Guid userId, JsonElement credential)
        => await Expect.ResponseAsync(
            await admin.DeleteAsync($"/api/v1/users/{userId}/credentials/{credential.GetProperty("id").GetString()}"), HttpStatusCode.NoContent);

    /// <summary>The token is a working bearer token of this API user: the API knows who calls.</summary>
    private async Task AssertActsAsAsync(OpenIdClientResult result, Guid userId)
    {
        Assert.True(string.Equals(result.Json.GetProperty("token_type").GetString(), "bearer", StringComparison.OrdinalIgnoreCase), result.ToString());
        using var client = Seed.WithBearer(App, result.AccessToken);
        var me = await Expect.ResponseAsync(await client.GetAsync("/api/v1/me"), HttpStatusCode.OK);
        Assert.Equal(userId, me.GetProperty("id").GetGuid());
        Assert.Equal("api", me.GetProperty("type").GetString());
    }

    /// <summary>Refused as a wrong credential is: 401 invalid_client, as the library reports it.</summary>
    private static void AssertRefused(OpenIdClientResult result)
    {
        Assert.False(result.Succeeded, result.ToString());
        Assert.True(result.ExitCode == 1 && result.Status == 401 && result.OAuthError == "invalid_client", result.ToString());
    }

    private static object PublicJwk(RSA rsa)
    {
        var key = rsa.ExportParameters(includePrivateParameters: false);
        return new { kty = "RSA", n = B64(key.Modulus), e = B64(key.Exponent) };
    }

    private static Dictionary<string, string> PrivateJwk(RSA rsa, string? kid)
    {
        var key = rsa.ExportParameters(includePrivateParameters: true);
        var jwk = new Dictionary<string, string>
        {
            ["kty"] = "RSA", ["n"] = B64(key.Modulus), ["e"] = B64(key.Exponent), ["d"] = B64(key.D),
            ["p"] = B64(key.P), ["q"] = B64(key.Q), ["dp"] = B64(key.DP), ["dq"] = B64(key.DQ), ["qi"] = B64(key.InverseQ),
        };
        return WithKid(jwk, kid);
    }

    private static Dictionary<string, string> PrivateJwk(ECDsa ec, string? kid)
    {
        var key = ec.ExportParameters(includePrivateParameters: true);
        var jwk = new Dictionary<string, string>
        {
            ["kty"] = "EC", ["crv"] = "P-256", ["x"] = B64(key.Q.X), ["y"] = B64(key.Q.Y), ["d"] = B64(key.D),
        };
        return WithKid(jwk, kid);
    }

    private static Dictionary<string, string> WithKid(Dictionary<string, string> jwk, string? kid)
    {
        if (kid is not null)
        {
            jwk["kid"] = kid;
        }

        return jwk;
    }

    private static string B64(byte[]? value) => Base64Url.EncodeToString(value ?? throw new InvalidOperationException("The key lacks a parameter."));

    /// <summary>A private JWK in a temporary file that only this user may read, deleted at the end of the test.</summary>
    private sealed class PrivateJwkFile : IDisposable
    {
        private PrivateJwkFile(string path) => Path = path;

        public string Path { get; }

        public static PrivateJwkFile Write(Dictionary<string, string> jwk)
        {
            var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tessera-interop-{Guid.NewGuid():N}.jwk");
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(path, options))
            {
                JsonSerializer.Serialize(stream, jwk);
            }

            return new PrivateJwkFile(path);
        }

        public void Dispose() => File.Delete(Path);
    }
}

/// <summary>One Kestrel-served Tessera per test class, per database provider: openid-client reaches it over loopback.</summary>
public abstract class InteropHost(string provider) : IAsyncLifetime
{
    public TesseraApp App { get; private set; } = null!;

    public Task InitializeAsync()
    {
        App = new TesseraApp(TestDatabase.Create(provider), kestrel: true).Started();
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

public sealed class SqliteInteropHost() : InteropHost("sqlite");

public sealed class PostgresInteropHost() : InteropHost("postgres");
