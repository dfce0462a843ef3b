using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>
/// The token signing key (RSA) and the key OpenIddict requires for encryption, kept in the database
/// (protected by Data Protection, whose keys live there too), so that every instance signs with the
/// same key and tokens outlive a restart.
/// </summary>
public static class SigningKeyStore
{
    private const string SigningKey = "tokens.signing_key";
    private const string EncryptionKey = "tokens.encryption_key";

    public static (RsaSecurityKey Signing, SymmetricSecurityKey Encryption) LoadOrCreate(TesseraDbContext db, IDataProtectionProvider protection, TimeProvider clock)
    {
        var protector = protection.CreateProtector("Tessera.SigningKeys");
        var signingPem = LoadOrAdd(db, protector, SigningKey, clock, () =>
        {
            using var rsa = RSA.Create(2048);
            return rsa.ExportPkcs8PrivateKeyPem();
        });
        var encryption = LoadOrAdd(db, protector, EncryptionKey, clock, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

        var rsaKey = RSA.Create();
        rsaKey.ImportFromPem(signingPem);
        var keyId = Base64UrlEncoder.Encode(SHA256.HashData(rsaKey.ExportSubjectPublicKeyInfo()).AsSpan(0, 12).ToArray());
        return (new RsaSecurityKey(rsaKey) { KeyId = keyId }, new SymmetricSecurityKey(Convert.FromBase64String(encryption)));
    }

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
