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
    TimeProvider clock)
{
    public const string SuccessAction = "token.client_credentials";
    public const string FailureAction = "token.failed";

    // Compiled once per provider (see PasswordSignIn): every token request runs these lookups.
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, string, CancellationToken, Task<User?>>> ByUsername = new();
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, Guid, IAsyncEnumerable<ApiCredential>>> CredentialsOf = new();

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
        await foreach (var credential in CredentialsOf.GetOrAdd(db.GetType(), static _ => EF.CompileAsyncQuery((TesseraDbContext db, Guid id) =>
            db.ApiCredentials.Where(c => c.UserId == id)))(db, userId).WithCancellation(ct))
        {
            if (credential.Type == type)
            {
                list.Add(credential);
            }
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
            return await FailedAsync(clientId, null, reason!, "client_secret", ct);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var credentials = await CredentialsAsync(user.Id, ApiCredentialType.Secret, ct);
        ApiCredential? match = credentials.FirstOrDefault(c => c.SecretHash is { } hash && ApiSecrets.Matches(hash, secret));
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

            return await FailedAsync(clientId, user, credentials.Count == 0 ? "no_credential" : "wrong_secret", "client_secret", ct);
        }

        if (ApiCredentialRules.IsExpired(match.ExpiresAt, now))
        {
            return await FailedAsync(clientId, user, "expired_credential", "client_secret", ct, match);
        }

        return await SucceededAsync(user, match, "client_secret", ct);
    }

    /// <summary>Records a successful authentication: the credential's last use (at most once a minute), the user's last sign-in, and the audit event.</summary>
    public async Task<ClientCheck> SucceededAsync(User user, ApiCredential credential, string method, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (ApiCredentialRules.ShouldRecordUse(credential.LastUsedAt, now))
        {
            credential.LastUsedAt = now;
        }

        if (user.LastSignInAt is null || user.LastSignInAt.Value > now || now - user.LastSignInAt.Value >= PasswordSignIn.LastSignInGranularity)
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

        return new ClientCheck(user, credential, null);
    }

    /// <summary>Records a refused authentication as <c>token.failed</c>, in the name the client gave. It counts toward no lockout.</summary>
    public async Task<ClientCheck> FailedAsync(string? clientId, User? user, string reason, string method, CancellationToken ct, ApiCredential? credential = null)
    {
        var login = clientId?.Trim() ?? "";
        var actor = audit.CurrentActor() with { Id = null, Name = login.Length > 254 ? login[..254] : login };
        // The unit of work may hold a half-made success (a rehash, say): only the refusal is saved.
        db.ChangeTracker.Clear();
        audit.Record(db, FailureAction, "user", user?.Id.ToString(), user?.Username, new { reason, method, credential = credential?.Name }, "failure", actor);
        await db.SaveChangesAsync(ct);
        return new ClientCheck(null, null, reason);
    }
}
