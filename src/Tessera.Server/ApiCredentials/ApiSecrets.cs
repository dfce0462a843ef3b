using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using Tessera.Server.Storage;

namespace Tessera.Server.ApiCredentials;

/// <summary>
/// Generated client secrets: 256 random bits, shown once, kept as a SHA-256 digest. A secret of that strength
/// cannot be guessed from its digest, so it needs no key stretching (PBKDF2 protects chosen passwords, which are
/// guessable); checking it costs microseconds, and a wrong one cannot be told apart by timing.
/// </summary>
public static class ApiSecrets
{
    /// <summary>Marks the secret as Tessera's, for secret scanners and for people reading a configuration file.</summary>
    public const string Prefix = "tsr_";

    public static string Generate() => Prefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string secret) => ApiCredential.Sha256Prefix + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Whether <paramref name="storedHash"/> is a generated secret's digest.</summary>
    public static bool IsGenerated(string? storedHash) => storedHash?.StartsWith(ApiCredential.Sha256Prefix, StringComparison.Ordinal) == true;

    /// <summary>
    /// Compares the digest of a presented secret (<see cref="Hash"/>, made once per request however many credentials
    /// the client holds) with a generated secret's stored digest, in constant time.
    /// </summary>
    public static bool Matches(string storedHash, string presentedDigest)
        => IsGenerated(storedHash) && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(storedHash), Encoding.ASCII.GetBytes(presentedDigest));
}
