using Microsoft.Extensions.Options;
using Tessera.Server.SignIn;

namespace Tessera.Server.Storage;

/// <summary>
/// A policy stored as a setting, kept in memory so that the requests that read it do not read the setting again.
/// A change made on this instance applies at once (the use case calls <see cref="Invalidate"/> after its commit);
/// other instances hear of it through <see cref="CacheSignals"/>, and without that within
/// Tessera:Tokens:CallerCacheSeconds, the bound that already applies to a caller's standing. Use cases that must
/// judge by the stored policy read it afresh instead.
/// </summary>
public abstract class SettingCache<T> where T : class
{
    private readonly IOptions<TokenOptions> options;
    private readonly TimeProvider clock;
    private readonly CacheSignals signals;
    private readonly string kind;
    private Entry? current;
    private long generation;

    protected SettingCache(IOptions<TokenOptions> options, TimeProvider clock, CacheSignals signals, string kind)
    {
        this.options = options;
        this.clock = clock;
        this.signals = signals;
        this.kind = kind;
        signals.Register(kind, Clear);
    }

    protected abstract Task<T> LoadAsync(TesseraDbContext db, CancellationToken ct);

    public async ValueTask<T> GetAsync(TesseraDbContext db, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var seen = Interlocked.Read(ref generation);
        var entry = Volatile.Read(ref current);
        if (entry is not null && entry.Generation == seen && entry.Expires > now)
        {
            return entry.Value;
        }

        var value = await LoadAsync(db, ct);
        if (options.Value.CallerCacheSeconds > 0 && Interlocked.Read(ref generation) == seen)
        {
            // Not kept when the policy changed while it was read: the next request reads again.
            Volatile.Write(ref current, new Entry(value, seen, now.AddSeconds(options.Value.CallerCacheSeconds)));
        }

        return value;
    }

    /// <summary>
    /// The value in memory while it is fresh, without a context: for callers on a hot path that would otherwise make
    /// one only to find the value cached (every SaveChanges passes through the webhook fan-out).
    /// </summary>
    public bool TryGetCached([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value)
    {
        var seen = Interlocked.Read(ref generation);
        var entry = Volatile.Read(ref current);
        value = entry is not null && entry.Generation == seen && entry.Expires > clock.GetUtcNow() ? entry.Value : null;
        return value is not null;
    }

    /// <summary>Call after a policy change is committed: clears it here and on every other instance.</summary>
    public void Invalidate()
    {
        Clear();
        signals.Publish(kind);
    }

    private void Clear()
    {
        Interlocked.Increment(ref generation);
        Volatile.Write(ref current, null);
    }

    private sealed record Entry(T Value, long Generation, DateTimeOffset Expires);
}
