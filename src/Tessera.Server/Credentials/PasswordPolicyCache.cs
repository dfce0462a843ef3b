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
public sealed class PasswordPolicyCache(IOptions<TokenOptions> options, TimeProvider clock, CacheSignals signals)
    : SettingCache<PasswordPolicy>(options, clock, signals, CacheKinds.PasswordPolicy)
{
    protected override Task<PasswordPolicy> LoadAsync(TesseraDbContext db, CancellationToken ct) => PasswordPolicyStore.GetAsync(db, ct);
}
