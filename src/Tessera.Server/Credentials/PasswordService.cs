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
    /// <summary>Checks the policy and history; on success the user has the new hash (unsaved, in the unit of work).</summary>
    public async Task<Failure?> SetAsync(TesseraDbContext db, User user, string? newPassword, string? confirmPassword, CancellationToken ct)
    {
        if (newPassword is null || newPassword.Length == 0)
        {
            return Failure.Invalid("validation_failed", "A new password is required.", new Dictionary<string, string[]> { ["newPassword"] = ["A new password is required."] });
        }

        if (confirmPassword is not null && !string.Equals(newPassword, confirmPassword, StringComparison.Ordinal))
        {
            return Failure.Invalid(PasswordViolationCodes.ConfirmationMismatch, "The confirmation does not match the new password.",
                new Dictionary<string, string[]> { ["confirmPassword"] = ["The confirmation does not match the new password."] });
        }

        var policy = await PasswordPolicyStore.GetAsync(db, ct);
        var violations = PasswordRules.Check(newPassword, policy, user.Username, user.Email, common, strength, user.FirstName, user.LastName).ToList();
        if (policy.HistoryCount > 0)
        {
            var previous = await db.PasswordHistory.Where(h => h.UserId == user.Id).OrderByDescending(h => h.Id)
                .Take(policy.HistoryCount).Select(h => h.PasswordHash).ToListAsync(ct);
            if (user.PasswordHash is not null && !previous.Contains(user.PasswordHash))
            {
                previous.Insert(0, user.PasswordHash);
            }

            if (previous.Take(policy.HistoryCount).Any(h => hasher.VerifyHashedPassword(user, h, newPassword) != PasswordVerificationResult.Failed))
            {
                violations.Add(new PasswordViolation(PasswordViolationCodes.Reused, $"The password was one of the last {policy.HistoryCount} used."));
            }
        }

        if (violations.Count > 0)
        {
            return Failure.Invalid("password_policy", string.Join(" ", violations.Select(v => v.Message)),
                new Dictionary<string, string[]> { ["newPassword"] = [.. violations.Select(v => v.Code)] }) with { Violations = violations };
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (user.PasswordHash is not null && !await db.PasswordHistory.AnyAsync(h => h.UserId == user.Id && h.PasswordHash == user.PasswordHash, ct))
        {
            // A password set before history was kept (bootstrap, say) still counts as used.
            db.PasswordHistory.Add(new PasswordHistoryEntry { UserId = user.Id, PasswordHash = user.PasswordHash, CreatedAt = user.PasswordChangedAt ?? now });
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
}
