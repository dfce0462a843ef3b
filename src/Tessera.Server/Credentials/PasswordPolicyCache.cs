using Microsoft.Extensions.Options;
using Tessera.Core.Credentials;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Credentials;

/// <summary>
/// The password policy as every sign-in reads it (lockout threshold and duration, maximum age), kept in
/// memory so that a token request does not read the setting again. A change made on this instance
/// applies to the next sign-in (<see cref="CredentialService.SetPolicyAsync"/> invalidates); other
/// instances see it within Tessera:Tokens:CallerCacheSeconds, the bound that already applies to a
/// caller's standing. Use cases that set a password read the policy afresh.
/// </summary>
public sealed class PasswordPolicyCache(IOptions<TokenOptions> options, TimeProvider clock)
{
    private Entry? current;
    private long generation;

    public async ValueTask<PasswordPolicy> GetAsync(TesseraDbContext db, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var seen = Interlocked.Read(ref generation);
        var entry = Volatile.Read(ref current);
        if (entry is not null && entry.Generation == seen && entry.Expires > now)
        {
            return entry.Policy;
        }

        var policy = await PasswordPolicyStore.GetAsync(db, ct);
        if (options.Value.CallerCacheSeconds > 0 && Interlocked.Read(ref generation) == seen)
        {
            // Not kept when the policy changed while it was read: the next sign-in reads again.
            Volatile.Write(ref current, new Entry(policy, seen, now.AddSeconds(options.Value.CallerCacheSeconds)));
        }

        return policy;
    }

    /// <summary>Call after a policy change is committed.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref generation);
        Volatile.Write(ref current, null);
    }

    private sealed record Entry(PasswordPolicy Policy, long Generation, DateTimeOffset Expires);
}
