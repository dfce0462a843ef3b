using System.Collections.Concurrent;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.ApiCredentials;

/// <summary>The outcome of a client authentication. The reason is for the audit log only, never for the caller.</summary>
public sealed record ClientCheck(User? User, ApiCredential? Credential, string? FailureReason)
{
    public bool Succeeded => FailureReason is null && User is not null;
}

/// <summary>
/// Authenticates an API user at the token, introspection and revocation endpoints by one of its credentials.
/// A wrong credential never locks the client (anyone who knows a client_id could otherwise cut an integration
/// off); failures are recorded as <c>token.failed</c> and throttled per client and address instead.
/// </summary>
public sealed class ClientAuthentication(
    TesseraDbContext db,
    IPasswordHasher<User> hasher,
    AuditLog audit,
    AuditBatchWriter batchedAudit,
    ClientSecretCache remembered,
    UsedAssertionIds usedAssertions,
    Microsoft.Extensions.Options.IOptions<TesseraOptions> tessera,
    TimeProvider clock)
{
    public const string SuccessAction = "token.client_credentials";
    public const string FailureAction = "token.failed";

    /// <summary>The audit names of the two ways a client authenticates.</summary>
    public const string SecretMethod = "client_secret";
    public const string PrivateKeyJwtMethod = "private_key_jwt";

    /// <summary>The one answer to every refused client authentication, whatever the reason: it tells nobody who exists or what failed.</summary>
    public const string Refusal = "The client credentials are invalid.";

    /// <summary>
    /// Whether this request's client authentication has been recorded: true (succeeded), false (refused and audited),
    /// null (nothing recorded yet). One authentication per request, so the scope is the request.
    /// </summary>
    public bool? Authenticated { get; private set; }

    // Compiled once per provider (see PasswordSignIn): every token request runs these lookups.
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, string, CancellationToken, Task<User?>>> ByUsername = new();
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, Guid, ApiCredentialType, IAsyncEnumerable<ApiCredential>>> CredentialsOf = new();

    /// <summary>Spent when no administrator-chosen secret was checked, so that the response time does not tell who exists.</summary>
    private static readonly Lazy<string> DummyHash = new(() => new PasswordHasher<User>(
        Microsoft.Extensions.Options.Options.Create(new PasswordHasherOptions { IterationCount = Credentials.PasswordHashing.Iterations }))
        .HashPassword(null!, "not a secret of anyone"));

    /// <summary>The API user a client_id names, if it may authenticate at all; else the reason it may not.</summary>
    public async Task<(User? User, string? Reason)> ClientAsync(string? clientId, CancellationToken ct)
    {
        var login = clientId?.Trim() ?? "";
        var user = login.Length == 0 ? null
            : await ByUsername.GetOrAdd(db.GetType(), static _ => EF.CompileAsyncQuery((TesseraDbContext db, string normalized, CancellationToken _) =>
                db.Users.SingleOrDefault(u => u.NormalizedUsername == normalized)))(db, Usernames.Normalize(login), ct);
        var now = clock.GetUtcNow().UtcDateTime;
        string? reason = user switch
        {
            null => "unknown_client",
            _ when Usernames.IsReserved(user.Username) => "reserved_user",
            _ when user.Type != UserType.Api => "backoffice_user_on_token",
            _ when user.CredentialMode == CredentialMode.Sso => "sso_user",
            _ when user.Status == UserStatus.Disabled => "disabled",
            _ when user.Standing.IsLockedAt(now) => "locked",
            _ => null,
        };
        return (reason is null ? user : null, reason);
    }

    /// <summary>Every credential of the user of the given type, expired ones included (they fail like wrong ones, but are told apart in the audit log).</summary>
    public async Task<List<ApiCredential>> CredentialsAsync(Guid userId, ApiCredentialType type, CancellationToken ct)
    {
        var list = new List<ApiCredential>();
        await foreach (var credential in CredentialsOf.GetOrAdd(db.GetType(), static _ => EF.CompileAsyncQuery((TesseraDbContext db, Guid id, ApiCredentialType type) =>
            db.ApiCredentials.Where(c => c.UserId == id && c.Type == type)))(db, userId, type).WithCancellation(ct))
        {
            list.Add(credential);
        }

        return list;
    }

    /// <summary>client_secret_basic or client_secret_post: the secret matches one of the client's unexpired secrets.</summary>
    public async Task<ClientCheck> CheckSecretAsync(string? clientId, string? secret, CancellationToken ct)
    {
        secret ??= "";
        var (user, reason) = await ClientAsync(clientId, ct);
        if (user is null)
        {
            hasher.VerifyHashedPassword(null!, DummyHash.Value, secret);
            return await FailedAsync(clientId, null, reason!, SecretMethod, ct);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var credentials = await CredentialsAsync(user.Id, ApiCredentialType.Secret, ct);
        var digest = ApiSecrets.Hash(secret);
        ApiCredential? match = credentials.FirstOrDefault(c => c.SecretHash is { } hash && ApiSecrets.Matches(hash, digest));
        var stretched = false;
        if (match is null)
        {
            // An administrator-chosen secret (the one named "initial") is a PBKDF2 hash: a client that proved it moments ago skips the work.
            foreach (var chosen in credentials.Where(c => c.SecretHash is { } h && !ApiSecrets.IsGenerated(h)))
            {
                if (remembered.Matches(chosen.Id, user.SecurityStamp, chosen.SecretHash!, secret))
                {
                    match = chosen;
                    break;
                }

                stretched = true;
                var verdict = hasher.VerifyHashedPassword(user, chosen.SecretHash!, secret);
                if (verdict != PasswordVerificationResult.Failed)
                {
                    if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
                    {
                        chosen.SecretHash = hasher.HashPassword(user, secret);
                    }

                    remembered.Remember(chosen.Id, user.SecurityStamp, chosen.SecretHash!, secret);
                    match = chosen;
                    break;
                }
            }
        }

        if (match is null)
        {
            if (!stretched)
            {
                hasher.VerifyHashedPassword(null!, DummyHash.Value, secret);
            }

            return await FailedAsync(clientId, user, credentials.Count == 0 ? "no_credential" : "wrong_secret", SecretMethod, ct);
        }

        if (ApiCredentialRules.IsExpired(match.ExpiresAt, now))
        {
            return await FailedAsync(clientId, user, "expired_credential", SecretMethod, ct, match);
        }

        return await SucceededAsync(user, match, SecretMethod, ct);
    }

    /// <summary>
    /// private_key_jwt: an assertion OpenIddict has verified with one of the client's keys (<paramref name="client"/>
    /// says which) passes Tessera's own rules (<see cref="ClientAssertions.Refusal"/>), its key is unexpired, and its
    /// jti has not been used: the row <c>(user, jti)</c> is inserted, and its key refuses a second one, also when two
    /// requests race, on either provider.
    /// </summary>
    public async Task<ClientCheck> CheckAssertionAsync(string? clientId, AssertionClient client, System.Security.Claims.ClaimsPrincipal assertion,
        string? assertionType, CancellationToken ct)
    {
        if (client.User is not { } user || client.VerifiedBy is not { } credential)
        {
            return await FailedAsync(clientId, client.User, client.Reason ?? "invalid_assertion", PrivateKeyJwtMethod, ct);
        }

        var now = clock.GetUtcNow();
        if (ClientAssertions.Refusal(assertion, assertionType, tessera.Value.PublicUrl, now, out var jti, out var expiresAt) is { } refusal)
        {
            return await FailedAsync(clientId, user, refusal, PrivateKeyJwtMethod, ct, credential);
        }

        if (ApiCredentialRules.IsExpired(credential.ExpiresAt, now.UtcDateTime))
        {
            return await FailedAsync(clientId, user, "expired_credential", PrivateKeyJwtMethod, ct, credential);
        }

        db.ClientAssertionIds.Add(new ClientAssertionId { UserId = user.Id, Jti = jti, ExpiresAt = expiresAt });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out _))
        {
            return await FailedAsync(clientId, user, "replayed_assertion", PrivateKeyJwtMethod, ct, credential);
        }

        await usedAssertions.PurgeIfDueAsync(db, now.UtcDateTime, ct);
        return await SucceededAsync(user, credential, PrivateKeyJwtMethod, ct);
    }

    /// <summary>Records a successful authentication: the credential's last use (at most once a minute), the user's last sign-in, and the audit event.</summary>
    public async Task<ClientCheck> SucceededAsync(User user, ApiCredential credential, string method, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (ApiCredentialRules.ShouldRecordUse(credential.LastUsedAt, now))
        {
            credential.LastUsedAt = now;
        }

        if (Core.Common.UseStamp.IsDue(user.LastSignInAt, now))
        {
            user.LastSignInAt = now;
        }

        // A client that authenticates has standing: an API user still "invited" (created before it held a credential) becomes active.
        user.Apply(user.Standing.SignedIn(now));
        var actor = audit.CurrentActor() with { Id = user.Id, Name = user.Username };
        var entry = audit.Describe(SuccessAction, "user", user.Id.ToString(), user.Username, new { method, credential = credential.Name, credentialId = credential.Id }, "success", actor);
        if (!db.ChangeTracker.HasChanges())
        {
            // A repeat token changes nothing else: its event joins the next batch instead of a transaction of its own.
            await batchedAudit.RecordAsync(db, entry, ct);
        }
        else
        {
            db.AuditEvents.Add(entry);
            await db.SaveChangesAsync(ct);
        }

        Authenticated = true;
        return new ClientCheck(user, credential, null);
    }

    /// <summary>Records a refused authentication as <c>token.failed</c>, in the name the client gave. It counts toward no lockout.</summary>
    /// <param name="detail">OpenIddict's description of a refusal it made (an assertion's claim, say): no secret, and useful to whoever reads the log.</param>
    public async Task<ClientCheck> FailedAsync(string? clientId, User? user, string reason, string method, CancellationToken ct, ApiCredential? credential = null,
        string? detail = null)
    {
        var login = clientId?.Trim() ?? "";
        var actor = audit.CurrentActor() with { Id = null, Name = login.Length > 254 ? login[..254] : login };
        // The unit of work may hold a half-made success (a rehash, say): only the refusal is saved.
        db.ChangeTracker.Clear();
        audit.Record(db, FailureAction, "user", user?.Id.ToString(), user?.Username, new { reason, method, credential = credential?.Name, detail }, "failure", actor);
        await db.SaveChangesAsync(ct);
        Authenticated = false;
        return new ClientCheck(null, null, reason);
    }
}

/// <summary>
/// Rows of used assertion ids outlive their purpose once the assertion has expired (it is then refused by its expiry
/// alone): at most once an hour per instance, those past their expiry and the clock skew are deleted.
/// </summary>
public sealed class UsedAssertionIds
{
    private readonly OncePer _hourly = new(TimeSpan.FromHours(1));

    public async Task PurgeIfDueAsync(TesseraDbContext db, DateTime now, CancellationToken ct)
    {
        if (!_hourly.IsDue(now))
        {
            return;
        }

        var before = now - ClientAssertions.ClockSkew - TimeSpan.FromMinutes(1);
        await db.ClientAssertionIds.Where(a => a.ExpiresAt < before).ExecuteDeleteAsync(ct);
    }
}
