using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Storage;

/// <summary>With Tessera:DataProtection:CertificatePath, the keys stored in the database are encrypted to that certificate.</summary>
public sealed class KeyProtectionTests : IDisposable
{
    private const string Password = "Pfx-Password-1234";
    private readonly string folder = Directory.CreateTempSubdirectory("tessera-keys-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task A_configured_certificate_encrypts_the_stored_keys_and_the_next_start_reads_them()
    {
        await using var database = TestDatabase.Create("sqlite");
        var settings = new Dictionary<string, string?>
        {
            [KeyProtection.CertificatePathSetting] = Certificate("keys.pfx"),
            [KeyProtection.CertificatePasswordSetting] = Password,
        };

        string token;
        await using (var app = new TesseraApp(database, settings).Started())
        {
            using var client = app.Client();
            token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);

            await using var scope = app.Scope(out var db);
            var keys = await db.DataProtectionKeys.AsNoTracking().Select(k => k.Xml!).ToListAsync();
            Assert.NotEmpty(keys);
            Assert.All(keys, xml =>
            {
                Assert.Contains("<encryptedSecret", xml, StringComparison.Ordinal);
                Assert.DoesNotContain("<value>", xml, StringComparison.Ordinal);
            });
        }

        // A second start (another instance, or a restart) decrypts the keys: the token it signed before still works.
        await using (var again = new TesseraApp(database, settings).Started())
        {
            using var api = Seed.WithBearer(again, token);
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
        }
    }

    [Fact]
    public async Task A_certificate_that_cannot_be_read_stops_the_start()
    {
        await using var database = TestDatabase.Create("sqlite");
        var missing = new Dictionary<string, string?> { [KeyProtection.CertificatePathSetting] = Path.Combine(folder, "missing.pfx") };
        await using (var app = new TesseraApp(database, missing))
        {
            Assert.Contains(KeyProtection.CertificatePathSetting, Assert.ThrowsAny<Exception>(() => app.Started()).ToString(), StringComparison.Ordinal);
        }

        var wrongPassword = new Dictionary<string, string?>
        {
            [KeyProtection.CertificatePathSetting] = Certificate("other.pfx"),
            [KeyProtection.CertificatePasswordSetting] = "not-the-password",
        };
        await using (var app = new TesseraApp(database, wrongPassword))
        {
            Assert.Contains(KeyProtection.CertificatePathSetting, Assert.ThrowsAny<Exception>(() => app.Started()).ToString(), StringComparison.Ordinal);
        }
    }

    private string Certificate(string name)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=Tessera key protection (test)", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, Password));
        return path;
    }
}
