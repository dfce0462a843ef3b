using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Tessera.Server.ApiCredentials;

/// <summary>`Tessera:ApiCredentials:Throttle`: how failed client authentications slow a (client_id, address) pair down.</summary>
public sealed class ClientThrottleOptions
{
    public const string Section = "Tessera:ApiCredentials:Throttle";

    /// <summary>
    /// Failures a pair may make before the first block. 0 is the strictest setting (every failure blocks), not "off":
    /// there is no off switch, since an unthrottled token endpoint lets anyone guess secrets at network speed.
    /// </summary>
    public int FreeFailures { get; set; } = 5;

    /// <summary>The longest block: each failure past the free ones doubles it (2, 4, 8 ... seconds) up to this.</summary>
    public int MaxBlockSeconds { get; set; } = 900;

    /// <summary>A pair's failures are forgotten after this long without one (or at once by a success).</summary>
    public int WindowSeconds { get; set; } = 900;

    internal sealed class Validator : IValidateOptions<ClientThrottleOptions>
    {
        public ValidateOptionsResult Validate(string? name, ClientThrottleOptions options)
        {
            var errors = new List<string>();
            if (options.FreeFailures is < 0 or > 1000)
            {
                errors.Add($"{Section}:FreeFailures must be between 0 (every failure blocks; the throttle cannot be turned off) and 1000.");
            }

            if (options.MaxBlockSeconds is < 1 or > 86_400)
            {
                errors.Add($"{Section}:MaxBlockSeconds must be between 1 and 86400.");
            }

            if (options.WindowSeconds is < 1 or > 86_400)
            {
                errors.Add($"{Section}:WindowSeconds must be between 1 and 86400.");
            }

            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>
/// Failed client authentications at the token, introspection and revocation endpoints, counted per
/// (normalized client_id, client address) in this instance's memory. A wrong credential never locks the API user
/// (anyone who knows a client_id could then cut an integration off from anywhere); instead the pair that fails is
/// slowed down: after <see cref="ClientThrottleOptions.FreeFailures"/> failures, each further one blocks the pair for
/// 2^k seconds, up to <see cref="ClientThrottleOptions.MaxBlockSeconds"/>. While blocked, the pair is answered 429
/// without any credential being looked at, so guessing costs the guesser time and the integration, calling from
/// its own address, nothing. A success forgets the pair.
/// <para>
/// Per instance: with N instances behind a balancer, a pair may make up to N times the free failures. The table is
/// bounded (<see cref="MaxPairs"/>): when full, pairs that are neither blocked nor recent are dropped first.
/// </para>
/// </summary>
public sealed class ClientThrottle(IOptions<ClientThrottleOptions> options, TimeProvider clock)
{
    /// <summary>Enough for every client of a large installation times a few addresses, and a few MB at most.</summary>
    public const int MaxPairs = 100_000;

    private readonly ConcurrentDictionary<string, Pair> _pairs = new(StringComparer.Ordinal);

    /// <summary>The key of a pair: the client_id as usernames compare (trimmed, case-insensitive) and the address.</summary>
    public static string Key(string? clientId, System.Net.IPAddress? address)
    {
        // Bounded: a client_id is a username (at most 254 characters), whatever a request sends.
        var login = clientId?.Trim() ?? "";
        return Core.Users.Usernames.Normalize(login.Length > 256 ? login[..256] : login) + "\n" + (address?.ToString() ?? "unknown");
    }

    /// <summary>How long the pair stays blocked, or null when it may try now.</summary>
    public TimeSpan? BlockedFor(string key)
    {
        if (!_pairs.TryGetValue(key, out var pair))
        {
            return null;
        }

        var now = clock.GetUtcNow();
        lock (pair)
        {
            return pair.BlockedUntil > now ? pair.BlockedUntil - now : null;
        }
    }

    /// <summary>Counts a failure; past the free ones it blocks the pair for twice as long as the last block.</summary>
    public void Failed(string key)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow();
        if (_pairs.Count >= MaxPairs && !_pairs.ContainsKey(key))
        {
            Prune(now, settings);
            if (_pairs.Count >= MaxPairs)
            {
                // As many pairs blocked at once as the table holds: a new pair goes uncounted rather than the memory unbounded.
                return;
            }
        }

        var pair = _pairs.GetOrAdd(key, static _ => new Pair());
        lock (pair)
        {
            if (now - pair.LastFailure > TimeSpan.FromSeconds(settings.WindowSeconds) && pair.BlockedUntil <= now)
            {
                pair.Failures = 0;
            }

            pair.Failures++;
            pair.LastFailure = now;
            var beyond = pair.Failures - settings.FreeFailures;
            if (beyond > 0)
            {
                // 2^k seconds, computed without overflow: the cap is reached long before 2^31.
                var seconds = beyond >= 30 ? settings.MaxBlockSeconds : Math.Min(1L << beyond, settings.MaxBlockSeconds);
                pair.BlockedUntil = now.AddSeconds(seconds);
            }
        }
    }

    /// <summary>A success: the pair starts afresh.</summary>
    public void Succeeded(string key) => _pairs.TryRemove(key, out _);

    private void Prune(DateTimeOffset now, ClientThrottleOptions settings)
    {
        var window = TimeSpan.FromSeconds(settings.WindowSeconds);
        foreach (var (key, pair) in _pairs)
        {
            bool stale;
            lock (pair)
            {
                stale = pair.BlockedUntil <= now && now - pair.LastFailure > window;
            }

            if (stale)
            {
                _pairs.TryRemove(key, out _);
            }
        }

        // Still full: drop the pairs that are not blocked now, whose counts matter least. Blocked pairs stay blocked.
        if (_pairs.Count >= MaxPairs)
        {
            foreach (var (key, pair) in _pairs)
            {
                bool open;
                lock (pair)
                {
                    open = pair.BlockedUntil <= now;
                }

                if (open)
                {
                    _pairs.TryRemove(key, out _);
                }
            }
        }
    }

    private sealed class Pair
    {
        public int Failures;
        public DateTimeOffset LastFailure = DateTimeOffset.MinValue;
        public DateTimeOffset BlockedUntil = DateTimeOffset.MinValue;
    }
}
