using System.Security.Claims;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Governance;
using Tessera.Core.Users;
using Tessera.Server.Access;
using Tessera.Server.Observability;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>What a request needs to know about its caller, loaded in one round of queries.</summary>
public sealed record CallerState(
    Guid Id,
    string Username,
    string Email,
    string FirstName,
    string LastName,
    UserType Type,
    UserStatus Status,
    CredentialMode CredentialMode,
    DateTime? LockedUntil,
    string SecurityStamp,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> Groups,
    EffectiveAccess Access)
{
    /// <summary>When one of the user's role grants or memberships next begins or ends; null when none will.</summary>
    public DateTime? AccessChangesAt { get; init; }

    /// <summary>The Back Office language chosen on the profile page (null: the browser's).</summary>
    public string? Language { get; init; }

    /// <summary>The IANA time zone chosen on the profile page (null: UTC).</summary>
    public string? TimeZone { get; init; }

    public IReadOnlySet<string> Privileges => Access.Privileges;

    public string StampDigest => CallerDirectory.Digest(SecurityStamp);

    /// <summary>The status and lock end, for the life-cycle rules. The failed sign-ins are not cached (they change
    /// on every wrong password, without a directory change): no rule about what the caller may do reads them.</summary>
    public AccountStanding Standing => new(Status, LockedUntil);

    public bool IsLocked(DateTime now) => Standing.IsLockedAt(now);

    /// <summary>Whether a token, code or session that carries this stamp digest still stands for this user right now.</summary>
    public bool Honours(ClaimsPrincipal principal, DateTime now) => MayAct(now) && principal.FindFirst(TesseraClaims.Stamp)?.Value == StampDigest;

    /// <summary>Whether this user may act at all right now: exists, active (or past a lockout), not reserved.</summary>
    public bool MayAct(DateTime now) => !Usernames.IsReserved(Username) && Standing.MayActAt(now);
}

/// <summary>
/// Caches each caller's standing for a short, configured bound (Tessera:Tokens:CallerCacheSeconds),
/// so that checking every request stays cheap. Any directory change on this instance clears it, and no entry
/// outlives the next instant at which one of the user's assignments begins or ends: time alone changes access.
/// On PostgreSQL a change on another instance clears it too, within milliseconds (<see cref="CacheSignals"/>);
/// the time bound is then only the fallback for lost notifications.
/// </summary>
public sealed class CallerDirectory
{
    private readonly ConcurrentDictionary<Guid, (CallerState? State, long Generation, DateTime Expires)> _cache = new();
    private readonly IServiceScopeFactory scopes;
    private readonly IOptions<TokenOptions> options;
    private readonly TimeProvider clock;
    private readonly CacheSignals signals;
    private readonly TesseraMetrics metrics;
    private long _generation;

    public CallerDirectory(IServiceScopeFactory scopes, IOptions<TokenOptions> options, TimeProvider clock, CacheSignals signals, TesseraMetrics metrics)
    {
        this.scopes = scopes;
        this.options = options;
        this.clock = clock;
        this.signals = signals;
        this.metrics = metrics;
        signals.Register(CacheKinds.Callers, Clear);
    }

    /// <summary>Call after a committed change to any user's standing: clears this instance's cache and every other's.</summary>
    public void Invalidate()
    {
        Clear();
        signals.Publish(CacheKinds.Callers);
    }

    /// <summary>Changes whenever the cache is cleared: a value derived from callers' rows is current while this stays the same.</summary>
    internal long Generation => Interlocked.Read(ref _generation);

    private void Clear()
    {
        Interlocked.Increment(ref _generation);
        _cache.Clear();
    }

    public async ValueTask<CallerState?> GetAsync(Guid userId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var generation = Interlocked.Read(ref _generation);
        if (_cache.TryGetValue(userId, out var entry) && entry.Generation == generation && entry.Expires > now)
        {
            metrics.CallerCacheHits.Add(1);
            return entry.State;
        }

        metrics.CallerCacheMisses.Add(1);

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var state = await LoadAsync(db, userId, now, ct);
        if (options.Value.CallerCacheSeconds > 0 && Interlocked.Read(ref _generation) == generation)
        {
            var expires = Validity.Earliest(now.AddSeconds(options.Value.CallerCacheSeconds), state?.AccessChangesAt)!.Value;
            _cache[userId] = (state, generation, expires);
        }

        return state;
    }

    /// <summary>The caller's standing at <paramref name="now"/>: roles, groups and access count only assignments valid then.</summary>
    public static async Task<CallerState?> LoadAsync(TesseraDbContext db, Guid userId, DateTime now, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null)
        {
            return null;
        }

        var access = await AccessLoader.LoadWithValidityAsync(db, userId, now, ct);
        return new CallerState(user.Id, user.Username, user.Email, user.FirstName, user.LastName, user.Type, user.Status,
            user.CredentialMode, user.LockedUntil, user.SecurityStamp, access.Roles, access.Groups, access.Access)
        {
            AccessChangesAt = access.NextChange,
            Language = user.Language,
            TimeZone = user.TimeZone,
        };
    }

    /// <summary>A short digest of the security stamp for tokens and cookies; the stamp itself stays in the database.</summary>
    public static string Digest(string stamp) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(stamp)), 0, 12);
}
