using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Memory;

namespace Tessera.Server.SignIn;

/// <summary>
/// Lets a client that has just proven its secret against the PBKDF2 hash skip that hash on its next
/// token requests for a short while: remembers an HMAC-SHA256, under a key drawn at random for this
/// process, of (user id, security stamp, password hash, secret). The stamp and hash are inside the
/// digest, so any password or stamp change makes the remembered digest useless at once; the secret
/// itself is never kept. Bounded in count and in time.
/// </summary>
public sealed class ClientSecretCache : IDisposable
{
    public const int Capacity = 10_000;
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly byte[] key = RandomNumberGenerator.GetBytes(32);
    private readonly MemoryCache cache;

    public ClientSecretCache(TimeProvider clock)
    {
        cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Capacity, Clock = new SystemClockAdapter(clock) });
    }

    /// <summary>Whether this exact secret was verified for this user, stamp and hash within <see cref="Lifetime"/>.</summary>
    public bool Matches(Guid userId, string securityStamp, string passwordHash, string secret)
        => cache.TryGetValue(userId, out byte[]? known) && known is not null
            && CryptographicOperations.FixedTimeEquals(known, Digest(userId, securityStamp, passwordHash, secret));

    /// <summary>Call only after the secret was verified against the hash.</summary>
    public void Remember(Guid userId, string securityStamp, string passwordHash, string secret)
        => cache.Set(userId, Digest(userId, securityStamp, passwordHash, secret), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = Lifetime });

    public void Forget(Guid userId) => cache.Remove(userId);

    public void Dispose() => cache.Dispose();

    private byte[] Digest(Guid userId, string securityStamp, string passwordHash, string secret)
    {
        // Length-prefixed parts, so that no two different tuples give the same input.
        var text = $"{userId:N}|{securityStamp.Length}:{securityStamp}|{passwordHash.Length}:{passwordHash}|{secret.Length}:{secret}";
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text));
    }

#pragma warning disable CS0618 // MemoryCacheOptions.Clock still takes the older ISystemClock.
    private sealed class SystemClockAdapter(TimeProvider clock) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => clock.GetUtcNow();
    }
#pragma warning restore CS0618
}
