using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;

namespace Tessera.Server.Credentials;

/// <summary>What a single-use link is for.</summary>
public static class TokenPurposes
{
    public const string Invitation = "invitation";
    public const string Reset = "reset";
}

/// <summary>
/// Single-use link secrets: 256 random bits handed out once, kept only as a SHA-256 hash,
/// void after use, after expiry, and whenever any password is set.
/// </summary>
public sealed class CredentialTokens(TimeProvider clock)
{
    /// <summary>Adds a token to the unit of work and returns the secret for the link.</summary>
    public string Issue(TesseraDbContext db, Guid userId, string purpose, TimeSpan lifetime)
    {
        var secret = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var now = clock.GetUtcNow().UtcDateTime;
        db.CredentialTokens.Add(new CredentialToken
        {
            UserId = userId,
            Purpose = purpose,
            TokenHash = Hash(secret),
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        });
        return secret;
    }

    /// <summary>Marks every open token of the user used: a password was set some other way.</summary>
    public async Task VoidAllAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await db.CredentialTokens.Where(t => t.UserId == userId && t.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), ct);
    }

    public static string Hash(string secret)
        => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
