using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Core.Access;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Credentials;

public sealed record PasswordRequest([Required] string? NewPassword, string? ConfirmPassword);

public sealed record ChangeOwnPasswordRequest([Required] string? CurrentPassword, [Required] string? NewPassword, string? ConfirmPassword);

public sealed record ResetPasswordRequest([Required] string? Token, [Required] string? NewPassword, string? ConfirmPassword);

/// <summary>POST /password/forgot: <c>login</c> (a username or an email address) or, as before, <c>email</c>.</summary>
public sealed record ForgotPasswordRequest(string? Email, string? Login = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public string? UsernameOrEmail => string.IsNullOrWhiteSpace(Login) ? Email : Login;
}

/// <summary>The emails the credential flows send; written to the outbox in the caller's transaction.</summary>
public interface ICredentialMail
{
    void Invitation(TesseraDbContext db, User user, string link, int expiresHours);

    void PasswordReset(TesseraDbContext db, User user, string link, int expiresHours);

    /// <summary>The notice that the user's password changed, however it changed.</summary>
    void PasswordChanged(TesseraDbContext db, User user);

    /// <summary>The notice to the address the user had before, that it is no longer theirs here.</summary>
    void EmailChanged(TesseraDbContext db, User user, string previousEmail);
}

/// <summary>
/// Passwords and the links that set them: the company policy, invitations, forgotten passwords,
/// administrators setting a password, users changing their own, and unlocking.
/// </summary>
public sealed class CredentialService(
    TesseraDbContext db,
    PasswordService passwords,
    CredentialTokens tokens,
    ICredentialMail mail,
    DirectoryPipeline pipeline,
    IPasswordHasher<User> hasher,
    AuditLog audit,
    CallerDirectory callers,
    PasswordPolicyCache policies,
    PasswordSignIn signIn,
    IOptions<TesseraOptions> tessera,
    TimeProvider clock) : IUserCreatedListener
{
    public const string InvalidLink = "This link is not valid any more: it was used, it expired, or a newer one replaced it. Use \"Trouble signing in?\" on the sign-in page to get a new one.";

    public Task<PasswordPolicy> PolicyAsync(CancellationToken ct) => PasswordPolicyStore.GetAsync(db, ct);

    /// <summary>
    /// Replaces the policy as a directory change (<c>password_policy.updated</c>, before and after), so that the approval
    /// policy can put it under four-eyes control (<c>change_password_policy</c>).
    /// </summary>
    public async Task<Outcome<PasswordPolicy>> SetPolicyAsync(PasswordPolicy? policy, CancellationToken ct)
    {
        if (policy is null)
        {
            return Failure.Invalid("validation_failed", "The body must be a password policy.");
        }

        var errors = policy.Validate();
        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        var outcome = await pipeline.RunAsync(new SetPasswordPolicy(pipeline.ActorId(), policy), async scope =>
        {
            var before = await PasswordPolicyStore.GetAsync(scope.Db, ct);
            var json = JsonSerializer.Serialize(policy, JsonSerializerOptions.Web);
            if (json == JsonSerializer.Serialize(before, JsonSerializerOptions.Web))
            {
                scope.NothingChanged();
                return null;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var stored = await scope.Db.Settings.SingleOrDefaultAsync(s => s.Key == PasswordPolicyStore.Key, ct);
            if (stored is null)
            {
                scope.Db.Settings.Add(new Setting { Key = PasswordPolicyStore.Key, Value = json, UpdatedAt = now });
            }
            else
            {
                stored.Value = json;
                stored.UpdatedAt = now;
            }

            scope.Audit(new { before, after = policy });
            return null;
        }, _ => Task.FromResult(policy), ct);
        if (outcome.Succeeded)
        {
            policies.Invalidate();
        }

        return outcome;
    }

    /// <summary>A new BackOffice user with a password gets the invitation in the same transaction.</summary>
    public async Task UserCreatedAsync(TesseraDbContext context, User user, CancellationToken ct)
    {
        if (user.Type == UserType.BackOffice && user.CredentialMode == CredentialMode.Password && user.PasswordHash is null)
        {
            var policy = await PasswordPolicyStore.GetAsync(context, ct);
            var secret = tokens.Issue(context, user.Id, TokenPurposes.Invitation, TimeSpan.FromHours(policy.InvitationLifetimeHours));
            mail.Invitation(context, user, tessera.Value.Link("/set-password?token=" + secret), policy.InvitationLifetimeHours);
        }
    }

    public async Task<Failure?> SendInvitationAsync(Guid userId, CancellationToken ct)
        => await pipeline.RunAsync(new SendInvitation(pipeline.ActorId(), userId), async scope =>
        {
            // Inviting oneself would set a new password without the current one: that goes through /me/password.
            var (user, refusal) = await PasswordUserAsync(scope, userId, AccountAction.SetPassword, ct);
            if (refusal is not null)
            {
                return refusal;
            }

            if (user.Type != UserType.BackOffice)
            {
                return Failure.Conflict("api_user", "API users get no invitation; set their password with POST /api/v1/users/{id}/password.");
            }

            var policy = await PasswordPolicyStore.GetAsync(db, ct);
            await tokens.VoidAllAsync(db, user.Id, ct);
            var secret = tokens.Issue(db, user.Id, TokenPurposes.Invitation, TimeSpan.FromHours(policy.InvitationLifetimeHours));
            mail.Invitation(db, user, tessera.Value.Link("/set-password?token=" + secret), policy.InvitationLifetimeHours);
            scope.Audit();
            return null;
        }, ct);

    /// <summary>
    /// "Forgot password" by username or email (a login containing @ is looked up as an email first, as sign-in does).
    /// Answers the same whether or not anyone matches; only an eligible user gets a reset link, at the account's email.
    /// </summary>
    public async Task ForgotAsync(string? login, CancellationToken ct)
    {
        login = login is null ? null : Usernames.Canonical(login);
        if (string.IsNullOrEmpty(login) || login.Length > Usernames.MaxEmailLength || login.Any(char.IsControl))
        {
            return;
        }

        var normalized = Usernames.Normalize(login);
        var user = login.Contains('@', StringComparison.Ordinal)
            ? await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == normalized, ct)
            : null;
        user ??= await db.Users.FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, ct);
        var eligible = user is not null && user.Type == UserType.BackOffice && user.CredentialMode == CredentialMode.Password
            && !string.IsNullOrWhiteSpace(user.Email) && !Usernames.IsReserved(user.Username) && user.Standing.MaySetPasswordByLink;
        if (!eligible)
        {
            audit.Record(db, "password.forgot", "user", user?.Id.ToString(), user?.Username, new { eligible = false }, "ignored", audit.CurrentActor() with { Name = "anonymous" });
            await db.SaveChangesAsync(ct);
            return;
        }

        var policy = await PasswordPolicyStore.GetAsync(db, ct);
        var secret = tokens.Issue(db, user!.Id, TokenPurposes.Reset, TimeSpan.FromHours(policy.ResetLifetimeHours));
        mail.PasswordReset(db, user, tessera.Value.Link("/set-password?token=" + secret), policy.ResetLifetimeHours);
        audit.Record(db, "password.forgot", "user", user.Id.ToString(), user.Username, new { eligible = true }, "success", audit.CurrentActor() with { Name = "anonymous" });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Who a link belongs to, if it is still good (for the set-password page).</summary>
    public async Task<User?> LinkOwnerAsync(string? token, CancellationToken ct)
    {
        var entry = await OpenTokenAsync(token, ct);
        return entry is null ? null : await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == entry.UserId, ct);
    }

    public async Task<Failure?> ResetAsync(ResetPasswordRequest request, CancellationToken ct)
    {
        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var entry = await OpenTokenAsync(request.Token, ct);
        var user = entry is null ? null : await db.Users.SingleOrDefaultAsync(u => u.Id == entry.UserId, ct);
        if (entry is null || user is null || Usernames.IsReserved(user.Username) || user.CredentialMode == CredentialMode.Sso || !user.Standing.MaySetPasswordByLink)
        {
            return Failure.Invalid("invalid_token", InvalidLink, new Dictionary<string, string[]> { ["token"] = [InvalidLink] });
        }

        if (await passwords.SetAsync(db, user, request.NewPassword, request.ConfirmPassword ?? "", ct) is { } failure)
        {
            return failure;
        }

        audit.Record(db, entry.Purpose == TokenPurposes.Invitation ? "user.password_set_by_invitation" : "user.password_reset", "user", user.Id.ToString(), user.Username,
            null, "success", audit.CurrentActor() with { Id = user.Id, Name = user.Username });
        mail.PasswordChanged(db, user);
        await WebSessionRecords.EndAllOfUserAsync(db, audit, user.Id, SessionEndReasons.PasswordReset, clock.GetUtcNow().UtcDateTime, ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return null;
    }

    public async Task<Failure?> AdminSetAsync(Guid userId, PasswordRequest request, CancellationToken ct)
        => await pipeline.RunAsync(new SetPassword(pipeline.ActorId(), userId) { Secret = request }, async scope =>
        {
            var (user, refusal) = await PasswordUserAsync(scope, userId, AccountAction.SetPassword, ct);
            if (refusal is not null)
            {
                return refusal;
            }

            if (await passwords.SetAsync(db, user, request.NewPassword, request.ConfirmPassword ?? "", ct) is { } failure)
            {
                return failure;
            }

            if (user.Type == UserType.Api)
            {
                // An API user's chosen secret is its credential named "initial"; other credentials stay as they are.
                var actor = audit.CurrentActor();
                await ApiCredentials.ApiCredentialService.ReplaceInitialAsync(db, user, user.PasswordHash!, actor.Id, actor.Name, clock.GetUtcNow().UtcDateTime, ct);
            }

            mail.PasswordChanged(db, user);
            scope.Audit();
            return null;
        }, ct);

    public async Task<Failure?> ChangeOwnAsync(Guid userId, ChangeOwnPasswordRequest request, CancellationToken ct)
    {
        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null || Usernames.IsReserved(user.Username))
        {
            return Failure.NotFound("The caller no longer exists.");
        }

        if (user.CredentialMode == CredentialMode.Sso)
        {
            return SsoUser();
        }

        // An API user's own password is its credential named "initial"; its other credentials are a user manager's to manage.
        var current = await PasswordService.CurrentHashAsync(db, user, ct);
        if (current is null || hasher.VerifyHashedPassword(user, current, request.CurrentPassword ?? "") == PasswordVerificationResult.Failed)
        {
            if (user.Type == UserType.Api)
            {
                // Wrong client secrets never lock an API user (anyone could cut an integration off); the refusal is recorded.
                audit.Record(db, "password.change", "user", user.Id.ToString(), user.Username, new { reason = "wrong_current_password" }, "failure");
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                return WrongCurrentPassword();
            }

            // A wrong current password counts toward the lockout like a wrong password at sign-in, so that a stolen
            // session or token cannot guess the password. The count has a transaction of its own: end this one first.
            await tx.DisposeAsync();
            await signIn.CountWrongSecretAsync("password.change", user, "wrong_current_password", ct);
            return WrongCurrentPassword();
        }

        if (await passwords.SetAsync(db, user, request.NewPassword, request.ConfirmPassword ?? "", ct) is { } failure)
        {
            return failure;
        }

        if (user.Type == UserType.Api)
        {
            await ApiCredentials.ApiCredentialService.ReplaceInitialAsync(db, user, user.PasswordHash!, user.Id, user.Username, clock.GetUtcNow().UtcDateTime, ct);
        }

        audit.Record(db, "user.password_changed", "user", user.Id.ToString(), user.Username);
        mail.PasswordChanged(db, user);
        await WebSessionRecords.EndAllOfUserAsync(db, audit, user.Id, SessionEndReasons.PasswordChanged, clock.GetUtcNow().UtcDateTime, ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return null;
    }

    /// <summary>The code of an unlock of an account that is not locked (409): nothing to undo.</summary>
    public const string NotLockedCode = "not_locked";

    public async Task<Failure?> UnlockAsync(Guid userId, CancellationToken ct)
        => await pipeline.RunAsync(new Unlock(pipeline.ActorId(), userId), async scope =>
        {
            var found = await UserService.AccountAsync(scope, userId, AccountAction.Change, ct);
            if (!found.Succeeded)
            {
                return found.Failure;
            }

            var user = found.Value!;
            if (user.Status != UserStatus.Locked)
            {
                // Reporting success would tell the administrator they fixed something; the account was never locked.
                return Failure.Conflict(NotLockedCode, $"{user.Username} is not locked.");
            }

            var wasLocked = true;
            user.Apply(user.Standing.Unlock());
            user.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            scope.Audit(new { wasLocked });
            return null;
        }, ct);

    /// <summary>A new security stamp: every token and session that carries the old one stops working.</summary>
    public async Task<Failure?> RevokeTokensAsync(Guid userId, CancellationToken ct)
        => await pipeline.RunAsync(new RevokeTokens(pipeline.ActorId(), userId), async scope =>
        {
            var found = await UserService.AccountAsync(scope, userId, AccountAction.Change, ct);
            if (!found.Succeeded)
            {
                return found.Failure;
            }

            found.Value!.SecurityStamp = User.NewStamp();
            scope.Audit();
            return null;
        }, ct);

    /// <summary>A user whose password an administrator may manage: exists, not reserved, within the actor's reach, not in SSO mode.</summary>
    private static async Task<(User User, Failure? Refusal)> PasswordUserAsync(ChangeScope scope, Guid userId, AccountAction action, CancellationToken ct)
    {
        var found = await UserService.AccountAsync(scope, userId, action, ct);
        return found switch
        {
            { Failure: { } failure } => (null!, failure),
            _ when found.Value!.CredentialMode == CredentialMode.Sso => (found.Value, SsoUser()),
            _ => (found.Value!, null),
        };
    }

    private async Task<CredentialToken?> OpenTokenAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(token) || token.Length > 100)
        {
            return null;
        }

        var hash = CredentialTokens.Hash(token.Trim());
        var now = clock.GetUtcNow().UtcDateTime;
        return await db.CredentialTokens.SingleOrDefaultAsync(t => t.TokenHash == hash && t.UsedAt == null && t.ExpiresAt > now, ct);
    }

    private static Failure WrongCurrentPassword()
        => Failure.Invalid("wrong_password", "The current password is not correct.", new Dictionary<string, string[]> { ["currentPassword"] = ["The current password is not correct."] });

    private static Failure SsoUser() => Failure.Conflict("sso_user", "This user signs in through single sign-on and has no password here.");
}
