using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>
/// The token signing keys (ECDSA P-256 and RSA 2048, both published in the JWKS) and the key OpenIddict requires
/// for encryption, kept in the database
/// (protected by Data Protection, whose keys live there too), so that every instance signs with the
/// same key and tokens outlive a restart.
/// </summary>
public static class SigningKeyStore
{
    private const string SigningKey = "tokens.signing_key";
    private const string EcSigningKey = "tokens.signing_key_p256";
    private const string EncryptionKey = "tokens.encryption_key";

    public static (RsaSecurityKey Rsa, ECDsaSecurityKey Ec, SymmetricSecurityKey Encryption) LoadOrCreate(TesseraDbContext db, IDataProtectionProvider protection, TimeProvider clock)
    {
        var protector = protection.CreateProtector("Tessera.SigningKeys");
        var signingPem = LoadOrAdd(db, protector, SigningKey, clock, () =>
        {
            using var rsa = RSA.Create(2048);
            return rsa.ExportPkcs8PrivateKeyPem();
        });
        var ecPem = LoadOrAdd(db, protector, EcSigningKey, clock, () =>
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return ec.ExportPkcs8PrivateKeyPem();
        });
        var encryption = LoadOrAdd(db, protector, EncryptionKey, clock, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

        var rsaKey = RSA.Create();
        rsaKey.ImportFromPem(signingPem);
        var ecKey = ECDsa.Create();
        ecKey.ImportFromPem(ecPem);
        return (new RsaSecurityKey(rsaKey) { KeyId = KeyId(rsaKey.ExportSubjectPublicKeyInfo()) },
            new ECDsaSecurityKey(ecKey) { KeyId = KeyId(ecKey.ExportSubjectPublicKeyInfo()) },
            new SymmetricSecurityKey(Convert.FromBase64String(encryption)));
    }

    private static string KeyId(byte[] publicKey) => Base64UrlEncoder.Encode(SHA256.HashData(publicKey).AsSpan(0, 12).ToArray());

    private static string LoadOrAdd(TesseraDbContext db, IDataProtector protector, string key, TimeProvider clock, Func<string> create)
    {
        var existing = db.Settings.AsNoTracking().SingleOrDefault(s => s.Key == key);
        if (existing is not null)
        {
            return protector.Unprotect(existing.Value);
        }

        var value = create();
        db.Settings.Add(new Setting { Key = key, Value = protector.Protect(value), UpdatedAt = clock.GetUtcNow().UtcDateTime });
        try
        {
            db.SaveChanges();
            return value;
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out _))
        {
            // Another instance created it first: everyone uses that one.
            db.ChangeTracker.Clear();
            return protector.Unprotect(db.Settings.AsNoTracking().Single(s => s.Key == key).Value);
        }
    }
}

/// <summary>
/// The keys of <see cref="SigningKeyStore"/>, read (or created) once per process. The start reads them behind
/// the bootstrap gate, where a database that does not answer is retried; OpenIddict's options, built once on
/// first use, then never wait for the database, nor fail with it during a later outage.
/// </summary>
public sealed class SigningKeys(IServiceScopeFactory scopes, TimeProvider clock)
{
    private readonly Lock _lock = new();
    private (RsaSecurityKey Rsa, ECDsaSecurityKey Ec, SymmetricSecurityKey Encryption)? _keys;

    public (RsaSecurityKey Rsa, ECDsaSecurityKey Ec, SymmetricSecurityKey Encryption) Get()
    {
        lock (_lock)
        {
            if (_keys is null)
            {
                using var scope = scopes.CreateScope();
                _keys = SigningKeyStore.LoadOrCreate(
                    scope.ServiceProvider.GetRequiredService<TesseraDbContext>(), scope.ServiceProvider.GetRequiredService<IDataProtectionProvider>(), clock);
            }

            return _keys.Value;
        }
    }
}
