using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Mfa;

/// <summary>One enrolled method as the administration API lists it.</summary>
/// <param name="Type">`totp`, `recovery_codes`, or (from the passkey source) `passkey`.</param>
/// <param name="Remaining">For recovery codes: how many are left unused.</param>
/// <param name="Id">For a method of which a user may hold several (passkeys): its id.</param>
/// <param name="Name">For a method of which a user may hold several: the name the user gave it.</param>
public sealed record MfaMethodResponse(string Type, DateTime CreatedAt, DateTime? LastUsedAt, int? Remaining = null, string? Id = null, string? Name = null);

/// <summary>A further kind of second factor (passkeys) lists its methods here; TOTP and recovery codes are built in.</summary>
public interface IMfaMethodSource
{
    Task<IReadOnlyList<MfaMethodResponse>> ListAsync(TesseraDbContext db, Guid userId, CancellationToken ct);

    /// <summary>Whether the user holds at least one method of this source (asked at every sign-in: one existence query).</summary>
    Task<bool> AnyAsync(TesseraDbContext db, Guid userId, CancellationToken ct);
}

/// <summary>A new TOTP enrolment: what the page shows so the user can add the key to an authenticator app.</summary>
public sealed record TotpEnrolment(string GroupedKey, string Uri, string QrDataUri);

/// <summary>
/// A user's second factors: listing them, enrolling and removing TOTP, recovery codes, checking a code presented at
/// sign-in or step-up, and an administrator's reset. Each self-service change is audited in the user's name.
/// </summary>
public sealed class MfaMethods(
    TesseraDbContext db,
    TotpKeys keys,
    IEnumerable<IMfaMethodSource> sources,
    AuditLog audit,
    DirectoryPipeline pipeline,
    TimeProvider clock,
    Observability.TesseraMetrics metrics)
{
    public const string Totp = "totp";
    public const string RecoveryCodesType = "recovery_codes";
    public const string RecoveryCode = "recovery_code";

    /// <summary>Every enrolled method of the user, TOTP first, then recovery codes, then those of other sources.</summary>
    public async Task<IReadOnlyList<MfaMethodResponse>> ListAsync(Guid userId, CancellationToken ct)
    {
        var list = new List<MfaMethodResponse>();
        var totp = await db.TotpAuthenticators.AsNoTracking().SingleOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt != null, ct);
        if (totp is not null)
        {
            list.Add(new MfaMethodResponse(Totp, totp.ConfirmedAt!.Value, totp.LastUsedAt));
        }

        var codes = await db.RecoveryCodes.AsNoTracking().Where(c => c.UserId == userId).Select(c => new { c.CreatedAt, c.UsedAt }).ToListAsync(ct);
        if (codes.Count > 0)
        {
            list.Add(new MfaMethodResponse(RecoveryCodesType, codes.Min(c => c.CreatedAt), codes.Max(c => c.UsedAt), codes.Count(c => c.UsedAt is null)));
        }

        foreach (var source in sources)
        {
            list.AddRange(await source.ListAsync(db, userId, ct));
        }

        return list;
    }

    /// <summary>Whether the user holds a second factor of their own; recovery codes alone are a fallback, not a factor.</summary>
    public async Task<bool> HoldsSecondFactorAsync(Guid userId, CancellationToken ct)
    {
        if (await db.TotpAuthenticators.AnyAsync(t => t.UserId == userId && t.ConfirmedAt != null, ct))
        {
            return true;
        }

        foreach (var source in sources)
        {
            if (await source.AnyAsync(db, userId, ct))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the policy obliges this user to use a second factor (roles held directly or through groups count).</summary>
    public async Task<bool> RequiredAsync(CallerState caller, MfaPolicy policy, CancellationToken ct)
    {
        if (policy.Required == MfaRequirement.None && policy.RequiredRoles.Count == 0)
        {
            return false;
        }

        var id = caller.Id;
        var groupRoles = policy.RequiredRoles.Count == 0 ? [] : await db.GroupMembers.Where(m => m.UserId == id)
            .Join(db.GroupRoles, m => m.GroupId, r => r.GroupId, (m, r) => r.Role!.Name).ToListAsync(ct);
        return policy.Requires(caller.Privileges, caller.Roles.Concat(groupRoles));
    }

    /// <summary>
    /// Starts (or resumes) a TOTP enrolment: a new key, stored protected and unconfirmed until a first valid code.
    /// Null when the user already holds a confirmed authenticator (remove it first).
    /// </summary>
    public async Task<TotpEnrolment?> BeginTotpAsync(Guid userId, string username, CancellationToken ct)
    {
        var row = await db.TotpAuthenticators.SingleOrDefaultAsync(t => t.UserId == userId, ct);
        if (row?.ConfirmedAt is not null)
        {
            return null;
        }

        byte[] key;
        if (row is null)
        {
            key = TotpKeys.NewKey();
            db.TotpAuthenticators.Add(new TotpAuthenticator { UserId = userId, ProtectedSecret = keys.Protect(key), CreatedAt = clock.GetUtcNow().UtcDateTime });
            await db.SaveChangesAsync(ct);
        }
        else
        {
            key = keys.Unprotect(row.ProtectedSecret);
        }

        var uri = TotpKeys.Uri(key, "Tessera", username);
        return new TotpEnrolment(TotpKeys.Grouped(key), uri, TotpKeys.QrDataUri(uri));
    }

    /// <summary>Ends the enrolment with one valid code; returns the new recovery codes, to be shown once.</summary>
    public async Task<Outcome<IReadOnlyList<string>>> ConfirmTotpAsync(Guid userId, string username, string? code, CancellationToken ct)
    {
        var row = await db.TotpAuthenticators.SingleOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt == null, ct);
        if (row is null)
        {
            return Failure.Conflict("no_enrolment", "There is no authenticator waiting to be confirmed; start again.");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (!IsTotpShape(code) || TotpKeys.MatchingStep(keys.Unprotect(row.ProtectedSecret), code!, now) is not { } step)
        {
            return Failure.Invalid("wrong_code", "That code is not right. Check the time on your phone and enter the current code.");
        }

        row.ConfirmedAt = now;
        row.LastUsedAt = now;
        row.LastTimeStep = step;
        var actor = Actor(userId, username);
        audit.Record(db, "mfa.totp.enrolled", "user", userId.ToString(), username, null, "success", actor);
        var codes = ReplaceRecoveryCodes(userId, username, now, actor);
        await db.SaveChangesAsync(ct);
        return Outcome<IReadOnlyList<string>>.Ok(codes);
    }

    /// <summary>Removes the user's authenticator; recovery codes go too when no other second factor remains.</summary>
    public async Task RemoveTotpAsync(Guid userId, string username, CancellationToken ct)
    {
        var removed = await db.TotpAuthenticators.Where(t => t.UserId == userId).ExecuteDeleteAsync(ct);
        if (removed == 0)
        {
            return;
        }

        if (!await HoldsSecondFactorAsync(userId, ct))
        {
            await db.RecoveryCodes.Where(c => c.UserId == userId).ExecuteDeleteAsync(ct);
        }

        audit.Record(db, "mfa.totp.removed", "user", userId.ToString(), username, null, "success", Actor(userId, username));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>A new set of recovery codes; the old set stops working at once.</summary>
    public async Task<IReadOnlyList<string>> RegenerateRecoveryCodesAsync(Guid userId, string username, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.RecoveryCodes.Where(c => c.UserId == userId).ExecuteDeleteAsync(ct);
        var codes = ReplaceRecoveryCodes(userId, username, clock.GetUtcNow().UtcDateTime, Actor(userId, username));
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return codes;
    }

    /// <summary>
    /// Checks a code presented as a second factor: six digits are a TOTP code, else a recovery code. Returns the
    /// method it proved (`totp`, `recovery_code`), or null. Each code works once, even when two requests race: the
    /// TOTP step and the recovery code are consumed by a conditional update that only one request can win.
    /// </summary>
    public async Task<string?> VerifyAsync(Guid userId, string? code, CancellationToken ct)
    {
        code = code?.Trim();
        var method = IsTotpShape(code) ? Totp : RecoveryCode;
        var proved = await CheckCodeAsync(userId, code, ct);
        metrics.SecondFactor(method, proved is null ? "failure" : "success");
        return proved;
    }

    private async Task<string?> CheckCodeAsync(Guid userId, string? code, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (IsTotpShape(code))
        {
            var row = await db.TotpAuthenticators.AsNoTracking().SingleOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt != null, ct);
            if (row is null || TotpKeys.MatchingStep(keys.Unprotect(row.ProtectedSecret), code!, now) is not { } step)
            {
                return null;
            }

            // A step at or before the last accepted one is a replay (or an older code): refused.
            var won = await db.TotpAuthenticators.Where(t => t.UserId == userId && t.LastTimeStep < step)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastTimeStep, step).SetProperty(t => t.LastUsedAt, now), ct);
            return won == 1 ? Totp : null;
        }

        if (RecoveryCodes.Normalize(code) is not { } normalized)
        {
            return null;
        }

        var hash = RecoveryCodes.Hash(normalized);
        var used = await db.RecoveryCodes.Where(c => c.UserId == userId && c.CodeHash == hash && c.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UsedAt, now), ct);
        return used == 1 ? RecoveryCode : null;
    }

    /// <summary>
    /// An administrator removes every second factor of a user (lost phone): subject to the delegation rules, so nobody
    /// resets the MFA of someone who outranks them. The new security stamp ends the user's sessions and tokens; at the
    /// next sign-in the user enrols again if the policy requires it.
    /// </summary>
    public async Task<Failure?> ResetAsync(Guid userId, CancellationToken ct)
        => await pipeline.RunAsync(new ResetMfa(pipeline.ActorId(), userId), async scope =>
        {
            var found = await UserService.AccountAsync(scope, userId, Core.Access.AccountAction.Change, ct);
            if (!found.Succeeded)
            {
                return found.Failure;
            }

            var user = found.Value!;
            var methods = await ListAsync(userId, ct);
            await scope.Db.TotpAuthenticators.Where(t => t.UserId == userId).ExecuteDeleteAsync(ct);
            await scope.Db.RecoveryCodes.Where(c => c.UserId == userId).ExecuteDeleteAsync(ct);
            foreach (var reset in Resets)
            {
                await reset.ResetAsync(scope.Db, userId, ct);
            }

            user.SecurityStamp = User.NewStamp();
            scope.Audit(new { methods = methods.Select(m => m.Type).Distinct().ToList() });
            return null;
        }, ct);

    private IEnumerable<IMfaMethodReset> Resets => sources.OfType<IMfaMethodReset>();

    private List<string> ReplaceRecoveryCodes(Guid userId, string username, DateTime now, Actor actor)
    {
        var codes = RecoveryCodes.Generate();
        foreach (var code in codes)
        {
            db.RecoveryCodes.Add(new RecoveryCode { UserId = userId, CodeHash = RecoveryCodes.Hash(RecoveryCodes.Normalize(code)!), CreatedAt = now });
        }

        audit.Record(db, "mfa.recovery_codes.generated", "user", userId.ToString(), username, new { count = codes.Count }, "success", actor);
        return [.. codes];
    }

    private static bool IsTotpShape(string? code) => code is { Length: 6 } && code.All(char.IsAsciiDigit);

    private Actor Actor(Guid userId, string username) => audit.CurrentActor() with { Id = userId, Name = username };
}

/// <summary>A source whose methods an administrator's reset removes too (passkeys).</summary>
public interface IMfaMethodReset
{
    Task ResetAsync(TesseraDbContext db, Guid userId, CancellationToken ct);
}
