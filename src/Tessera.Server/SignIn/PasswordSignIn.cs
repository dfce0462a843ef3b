using System.Collections.Concurrent;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.SignIn;

/// <summary>Where a password is presented. API users authenticate by their credentials instead (<see cref="ApiCredentials.ClientAuthentication"/>).</summary>
public enum SignInChannel
{
    BackOffice,
}

/// <summary>The outcome of a password check. The reason is for the audit log only, never for the caller.</summary>
public sealed record PasswordCheck(User? User, string? FailureReason, bool PasswordExpired = false)
{
    public bool Succeeded => FailureReason is null && User is not null;
}

/// <summary>
/// Checks a BackOffice user's username (or email) and password, counts failures toward lockout and
/// records every attempt in the audit log. Callers show one generic message whatever the reason.
/// </summary>
public sealed class PasswordSignIn(
    TesseraDbContext db,
    IPasswordHasher<User> hasher,
    AuditLog audit,
    CallerDirectory callers,
    Credentials.PasswordPolicyCache policies,
    TimeProvider clock,
    Observability.TesseraMetrics metrics,
    ILogger<PasswordSignIn> logger)
{
    // Compiled once per provider: building and caching the query's expression tree on each call cost a tenth
    // of a sign-in's CPU. A compiled query keeps the first model it meets, hence one per context type (the
    // tests run both providers in one process).
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, string, CancellationToken, Task<User?>>> ByUsername = new();
    private static readonly ConcurrentDictionary<Type, Func<TesseraDbContext, string, CancellationToken, Task<User?>>> ByUsernameOrEmail = new();

    private static Task<User?> FindAsync(TesseraDbContext db, string normalized, bool orEmail, CancellationToken ct) => orEmail
        ? ByUsernameOrEmail.GetOrAdd(db.GetType(), static _ => EF.CompileAsyncQuery((TesseraDbContext db, string normalized, CancellationToken _) =>
            db.Users.SingleOrDefault(u => u.NormalizedEmail == normalized || u.NormalizedUsername == normalized)))(db, normalized, ct)
        : ByUsername.GetOrAdd(db.GetType(), static _ => EF.CompileAsyncQuery((TesseraDbContext db, string normalized, CancellationToken _) =>
            db.Users.SingleOrDefault(u => u.NormalizedUsername == normalized)))(db, normalized, ct);

    /// <summary>Spent on unknown users too, so the response time does not tell who exists.</summary>
    private static readonly Lazy<string> DummyHash = new(() => new PasswordHasher<User>(
        Microsoft.Extensions.Options.Options.Create(new PasswordHasherOptions { IterationCount = Credentials.PasswordHashing.Iterations }))
        .HashPassword(null!, "not a password of anyone"));

    public async Task<PasswordCheck> CheckAsync(string? login, string? password, SignInChannel channel, CancellationToken ct)
    {
        var policy = await policies.GetAsync(db, ct);
        var lockout = new LockoutRule(policy.LockoutThreshold, TimeSpan.FromMinutes(policy.LockoutMinutes));
        login = login?.Trim() ?? "";
        password ??= "";
        var normalized = Usernames.Normalize(login);
        var user = login.Length == 0 ? null
            : await FindAsync(db, normalized, orEmail: login.Contains('@', StringComparison.Ordinal), ct);
        var now = clock.GetUtcNow().UtcDateTime;
        const string action = "signin.password";

        string? reason = user switch
        {
            null => "unknown_user",
            _ when Usernames.IsReserved(user.Username) => "reserved_user",
            _ when user.Type != UserType.BackOffice => "api_user_on_web",
            _ when user.CredentialMode == CredentialMode.Sso => "sso_user",
            _ when user.Status == UserStatus.Disabled => "disabled",
            _ when user.Standing.IsLockedAt(now) => "locked",
            _ when user.PasswordHash is null => "no_password",
            _ => null,
        };

        if (reason is not null)
        {
            // Same work as a real check, so that timing does not tell the reasons apart.
            hasher.VerifyHashedPassword(null!, DummyHash.Value, password);
            await RecordFailureAsync(action, login, user, reason, ct);
            metrics.SignIn(Observability.SignInOutcomes.OfReason(reason), Observability.SignInMethods.Password);
            return new PasswordCheck(null, reason);
        }

        var verdict = hasher.VerifyHashedPassword(user!, user!.PasswordHash!, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            await CountFailureAsync(action, login, user, lockout, now, ct);
            metrics.SignIn(Observability.SignInOutcomes.Failure, Observability.SignInMethods.Password);
            return new PasswordCheck(null, "wrong_password");
        }

        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = hasher.HashPassword(user, password);
        }

        user.Apply(user.Standing.SignedIn(now));
        var expired = policy.MaxAgeDays > 0 && (user.PasswordChangedAt ?? user.CreatedAt) < now.AddDays(-policy.MaxAgeDays);

        if (Core.Common.UseStamp.IsDue(user.LastSignInAt, now))
        {
            user.LastSignInAt = now;
        }

        var actor = audit.CurrentActor() with { Id = user.Id, Name = user.Username };
        db.AuditEvents.Add(audit.Describe(action, "user", user.Id.ToString(), user.Username, expired ? new { passwordExpired = true } : null, "success", actor));
        await db.SaveChangesAsync(ct);

        return new PasswordCheck(user, null, expired);
    }

    /// <summary>
    /// A wrong secret other than the sign-in password (a second-factor code, the current password on a password change)
    /// counts toward the same lockout as a wrong password, and is recorded under <paramref name="action"/> with <paramref name="reason"/>.
    /// </summary>
    public async Task CountWrongSecretAsync(string action, User user, string reason, CancellationToken ct)
    {
        var policy = await policies.GetAsync(db, ct);
        var lockout = new LockoutRule(policy.LockoutThreshold, TimeSpan.FromMinutes(policy.LockoutMinutes));
        await CountFailureAsync(action, user.Username, user, lockout, clock.GetUtcNow().UtcDateTime, ct, reason);
    }

    /// <summary>
    /// Adds one failure in the database itself and locks the user at the threshold, as
    /// <see cref="AccountStanding.SignInFailed"/> says. Counting in memory (read, add one, write) let
    /// concurrent wrong attempts overwrite each other's count, so a burst of guesses could stay under the
    /// threshold for ever. The increment, the lock and the audit events commit together; of two attempts
    /// that both reach the threshold, only the first locks, and a user disabled meanwhile stays disabled.
    /// </summary>
    private async Task CountFailureAsync(string action, string login, User user, LockoutRule lockout, DateTime now, CancellationToken ct, string reason = "wrong_password")
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var id = user.Id;
        await db.Users.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.FailedSignInCount, u => u.FailedSignInCount + 1), ct);
        // A user deleted meanwhile has no count to reach; the attempt is still recorded.
        var failures = await db.Users.Where(u => u.Id == id).Select(u => (int?)u.FailedSignInCount).SingleOrDefaultAsync(ct) ?? 0;
        var lockedNow = false;
        var until = now + lockout.Duration;
        if (failures >= lockout.Threshold)
        {
            lockedNow = await db.Users.TryLockAsync(id, now, until, ct);
        }

        RecordFailure(action, login, user, reason);
        if (lockedNow)
        {
            audit.Record(db, "user.locked", "user", id.ToString(), user.Username,
                new { until, threshold = lockout.Threshold }, "success", Actor.System with { ClientIp = audit.CurrentActor().ClientIp });
        }

        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        if (lockedNow)
        {
            metrics.Lockouts.Add(1);
            callers.Invalidate();
            logger.LogInformation("User {UserId} locked after {Threshold} failed sign-ins.", id, lockout.Threshold);
        }
    }

    private async Task RecordFailureAsync(string action, string login, User? user, string reason, CancellationToken ct)
    {
        RecordFailure(action, login, user, reason);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Adds the refused attempt to the unit of work, in the name the caller gave.</summary>
    private void RecordFailure(string action, string login, User? user, string reason)
    {
        var actor = audit.CurrentActor() with { Id = null, Name = login.Length > 254 ? login[..254] : login };
        audit.Record(db, action, "user", user?.Id.ToString(), user?.Username, new { reason }, "failure", actor);
    }
}
