using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Server.Storage;

namespace Tessera.Server.Credentials;

/// <summary>The company password policy, kept as one setting; defaults until an administrator changes it.</summary>
public sealed class PasswordPolicyStore
{
    public const string Key = "password_policy";

    public static async Task<PasswordPolicy> GetAsync(TesseraDbContext db, CancellationToken ct)
    {
        var stored = await db.Settings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == Key, ct);
        return stored is null ? PasswordPolicy.Default : JsonSerializer.Deserialize<PasswordPolicy>(stored.Value, JsonSerializerOptions.Web) ?? PasswordPolicy.Default;
    }
}

/// <summary>Every way a password is set goes through here: policy, history, hashing, and ending old sessions and links.</summary>
public sealed class PasswordService(IPasswordHasher<User> hasher, ICommonPasswords common, IPasswordStrengthEstimator strength, CredentialTokens tokens, TimeProvider clock)
{
    public const string MismatchMessage = "The confirmation does not match the new password.";

    /// <summary>
    /// Checks the policy, the history and the confirmation; on success the user has the new hash (unsaved, in the unit
    /// of work). A password that breaks rules is refused as <c>password_policy</c>, naming <c>confirmPassword</c> too when
    /// the confirmation differs; a good password with a differing confirmation is <c>confirmation_mismatch</c>.
    /// </summary>
    public async Task<Failure?> SetAsync(TesseraDbContext db, User user, string? newPassword, string? confirmPassword, CancellationToken ct)
    {
        if (newPassword is null || newPassword.Length == 0)
        {
            return Failure.Invalid("validation_failed", "A new password is required.", new Dictionary<string, string[]> { ["newPassword"] = ["A new password is required."] });
        }

        // Every rule is judged at once, the confirmation too, so that one round trip shows all that is wrong.
        var mismatch = confirmPassword is not null && !string.Equals(newPassword, confirmPassword, StringComparison.Ordinal);
        var policy = await PasswordPolicyStore.GetAsync(db, ct);
        var violations = PasswordRules.Check(newPassword, policy, user.Username, user.Email, common, strength, user.FirstName, user.LastName).ToList();
        var current = await CurrentHashAsync(db, user, ct);
        if (policy.HistoryCount > 0)
        {
            var previous = await db.PasswordHistory.Where(h => h.UserId == user.Id).OrderByDescending(h => h.Id)
                .Take(policy.HistoryCount).Select(h => h.PasswordHash).ToListAsync(ct);
            if (current is not null && !previous.Contains(current))
            {
                previous.Insert(0, current);
            }

            if (previous.Take(policy.HistoryCount).Any(h => hasher.VerifyHashedPassword(user, h, newPassword) != PasswordVerificationResult.Failed))
            {
                violations.Add(new PasswordViolation(PasswordViolationCodes.Reused, $"The password was one of the last {policy.HistoryCount} used."));
            }
        }

        if (violations.Count > 0)
        {
            var errors = new Dictionary<string, string[]> { ["newPassword"] = [.. violations.Select(v => v.Code)] };
            if (mismatch)
            {
                errors["confirmPassword"] = [MismatchMessage];
            }

            return Failure.Invalid("password_policy", string.Join(" ", violations.Select(v => v.Message).Append(mismatch ? MismatchMessage : null).OfType<string>()),
                errors) with { Violations = violations };
        }

        if (mismatch)
        {
            return Failure.Invalid(PasswordViolationCodes.ConfirmationMismatch, MismatchMessage,
                new Dictionary<string, string[]> { ["confirmPassword"] = [MismatchMessage] });
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (current is not null && !await db.PasswordHistory.AnyAsync(h => h.UserId == user.Id && h.PasswordHash == current, ct))
        {
            // A password set before history was kept (bootstrap, say) still counts as used.
            db.PasswordHistory.Add(new PasswordHistoryEntry { UserId = user.Id, PasswordHash = current, CreatedAt = user.PasswordChangedAt ?? now });
        }

        user.PasswordHash = hasher.HashPassword(user, newPassword);
        db.PasswordHistory.Add(new PasswordHistoryEntry { UserId = user.Id, PasswordHash = user.PasswordHash, CreatedAt = now });
        user.PasswordChangedAt = now;
        user.SecurityStamp = User.NewStamp();
        user.UpdatedAt = now;
        user.Apply(user.Standing.CredentialSet());

        await tokens.VoidAllAsync(db, user.Id, ct);
        return null;
    }

    /// <summary>
    /// The user's current chosen password hash: a BackOffice user's password, or an API user's credential named
    /// "initial" (the secret this service sets for API users); null when there is none.
    /// </summary>
    public static async Task<string?> CurrentHashAsync(TesseraDbContext db, User user, CancellationToken ct)
    {
        if (user.Type != Core.Users.UserType.Api || user.PasswordHash is not null)
        {
            return user.PasswordHash;
        }

        var initial = ApiCredentialRules.NormalizeName(ApiCredentialRules.InitialName);
        var hash = await db.ApiCredentials.Where(c => c.UserId == user.Id && c.NormalizedName == initial).Select(c => c.SecretHash).SingleOrDefaultAsync(ct);
        return ApiCredentials.ApiSecrets.IsGenerated(hash) ? null : hash;
    }
}
