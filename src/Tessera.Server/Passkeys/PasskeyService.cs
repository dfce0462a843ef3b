using System.Text.Json;
using Fido2NetLib;
using Fido2NetLib.Objects;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Passkeys;

/// <summary>A passkey just added, and where the browser goes next when the addition ended a pending sign-in.</summary>
public sealed record PasskeyRegistered(Guid Id, string Name, DateTime CreatedAt, DateTime? LastUsedAt, string? Redirect);

/// <summary>Who adds a passkey: a signed-in user, or the user of a pending sign-in that must enrol first.</summary>
public sealed record PasskeyOwner(Guid UserId, PendingSignIn? Pending);

/// <summary>
/// The WebAuthn ceremonies, done by Fido2: options with a fresh challenge (kept server-side-protected by
/// <see cref="PasskeyCeremonies"/>), then the verification of the authenticator's answer against them.
/// User verification is required every time, so a passkey is possession and a PIN or biometric: two factors.
/// </summary>
public sealed class PasskeyService(
    TesseraDbContext db,
    PasskeyConfiguration configuration,
    PasskeyCeremonies ceremonies,
    SignInFlow flow,
    PasswordSignIn passwords,
    AuditLog audit,
    CallerDirectory callers,
    TimeProvider clock,
    Observability.TesseraMetrics metrics,
    ILogger<PasskeyService> logger)
{
    /// <summary>The one answer to every refused assertion: it never tells whether a user or a credential exists.</summary>
    public static readonly Failure Refused = Failure.Invalid("passkey_failed", "The passkey could not be verified. Try again, or sign in another way.");

    public static readonly Failure Expired = Failure.Invalid("passkey_ceremony_expired", "The passkey request expired or was already used. Start again.");

    private Fido2 Fido2 => new(configuration.Fido2);

    /// <summary>Creation options for a new passkey of <paramref name="owner"/>; its existing passkeys are excluded.</summary>
    public async Task<Outcome<string>> RegistrationOptionsAsync(HttpContext http, PasskeyOwner owner, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == owner.UserId, ct);
        if (user is null || user.Type != UserType.BackOffice)
        {
            return Failure.Forbidden("forbidden", "Only Back Office users hold passkeys.");
        }

        var existing = await db.Passkeys.AsNoTracking().Where(p => p.UserId == user.Id).Select(p => new { p.CredentialId, p.Transports }).ToListAsync(ct);
        var options = Fido2.RequestNewCredential(new RequestNewCredentialParams
        {
            User = new Fido2User { Id = UserHandle(user.Id), Name = user.Username, DisplayName = $"{user.FirstName} {user.LastName}".Trim() is { Length: > 0 } n ? n : user.Username },
            ExcludeCredentials = [.. existing.Select(p => Descriptor(p.CredentialId, p.Transports))],
            AuthenticatorSelection = new AuthenticatorSelection
            {
                // Discoverable, so that the same passkey also signs in without a username.
                ResidentKey = ResidentKeyRequirement.Required,
                UserVerification = UserVerificationRequirement.Required,
            },
            AttestationPreference = AttestationConveyancePreference.None,
        });
        var json = options.ToJson();
        ceremonies.Begin(http, CeremonyPurpose.Register, AssertionMode.SignIn, user.Id, json, owner.Pending?.ReturnUrl ?? "/");
        return Outcome<string>.Ok(json);
    }

    /// <summary>Verifies the authenticator's attestation against the issued options and stores the passkey.</summary>
    public async Task<Outcome<PasskeyRegistered>> RegisterAsync(HttpContext http, PasskeyOwner owner, string? name, AuthenticatorAttestationRawResponse? response, CancellationToken ct)
    {
        // Bad input changes nothing: the ceremony stays open for a corrected name.
        var (checkedName, problem) = PasskeyNames.Check(name);
        if (checkedName is null)
        {
            return Failure.Invalid("invalid_passkey_name", problem!, new Dictionary<string, string[]> { ["name"] = [problem!] });
        }

        if (response?.Response is null)
        {
            return Failure.Invalid("invalid_request", "The body needs `credential`: the authenticator's answer (PublicKeyCredential as JSON).");
        }

        var state = ceremonies.End(http, CeremonyPurpose.Register);
        if (state is null || state.UserId != owner.UserId)
        {
            return Expired;
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == owner.UserId, ct);
        if (user is null)
        {
            return Expired;
        }

        RegisteredPublicKeyCredential credential;
        try
        {
            credential = await Fido2.MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = response,
                OriginalOptions = CredentialCreateOptions.FromJson(state.OptionsJson),
                IsCredentialIdUniqueToUserCallback = async (args, token) => !await db.Passkeys.AnyAsync(p => p.CredentialId == args.CredentialId, token),
            }, ct);
        }
        catch (Fido2VerificationException e) when (e.Code == Fido2NetLib.Exceptions.Fido2ErrorCode.NonUniqueCredentialId)
        {
            audit.Record(db, "mfa.passkey.registered", "user", user.Id.ToString(), user.Username, new { reason = "duplicate_credential" }, "failure");
            await db.SaveChangesAsync(ct);
            return Failure.Conflict("passkey_exists", "This passkey is already registered.");
        }
        catch (Exception e) when (e is Fido2VerificationException or ArgumentException or FormatException or InvalidOperationException or System.Formats.Cbor.CborContentException)
        {
            // The reason is Fido2's own, never the credential or the challenge.
            logger.LogInformation("A passkey registration of user {UserId} was refused: {Reason}.", user.Id, (e as Fido2VerificationException)?.Code.ToString() ?? e.GetType().Name);
            audit.Record(db, "mfa.passkey.registered", "user", user.Id.ToString(), user.Username, new { reason = "invalid_attestation" }, "failure");
            await db.SaveChangesAsync(ct);
            return Failure.Invalid("passkey_failed", "The passkey could not be verified. Try again.");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var passkey = new Passkey
        {
            UserId = user.Id,
            CredentialId = credential.Id,
            PublicKey = credential.PublicKey,
            SignatureCounter = credential.SignCount,
            UserHandle = credential.User.Id,
            AaGuid = credential.AaGuid,
            Transports = string.Join(',', (credential.Transports ?? []).Select(t => t.ToString().ToLowerInvariant()).Distinct()),
            Name = checkedName,
            CreatedAt = now,
        };
        db.Passkeys.Add(passkey);
        audit.Record(db, "mfa.passkey.registered", "user", user.Id.ToString(), user.Username, new { passkeyId = passkey.Id, name = passkey.Name, aaguid = passkey.AaGuid });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The same credential registered at the same moment by another request: the unique index decided.
            return Failure.Conflict("passkey_exists", "This passkey is already registered.");
        }

        string? redirect = null;
        if (owner.Pending is { Stage: PendingStage.Enrolment } pending)
        {
            // The first passkey of a user who had to enrol ends the sign-in: it was made with user verification just now.
            redirect = await flow.CompleteSecondFactorAsync(http, pending, AuthenticationMethods.HardwareKey, ct);
        }

        return Outcome<PasskeyRegistered>.Ok(new PasskeyRegistered(passkey.Id, passkey.Name, passkey.CreatedAt, null, redirect));
    }

    /// <summary>Removes one of the owner's own passkeys; another user's id is not found, as an unknown one is.</summary>
    public async Task<Failure?> RemoveAsync(Guid userId, Guid passkeyId, CancellationToken ct)
    {
        var passkey = await db.Passkeys.SingleOrDefaultAsync(p => p.Id == passkeyId && p.UserId == userId, ct);
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId, ct);
        if (passkey is null || user is null)
        {
            return Failure.NotFound("You hold no passkey with this id.");
        }

        db.Passkeys.Remove(passkey);
        audit.Record(db, "mfa.passkey.removed", "user", user.Id.ToString(), user.Username, new { passkeyId = passkey.Id, name = passkey.Name });
        await db.SaveChangesAsync(ct);
        return null;
    }

    /// <summary>
    /// Request options: no allowed credentials for a passwordless sign-in (the authenticator offers its discoverable
    /// ones); the pending user's for a second factor; the session user's for a step-up.
    /// </summary>
    public async Task<Outcome<string>> AssertionOptionsAsync(HttpContext http, AssertionMode mode, string? returnUrl, CancellationToken ct)
    {
        Guid? userId = null;
        if (mode == AssertionMode.SecondFactor)
        {
            if (await flow.PendingAsync(http) is not { Stage: PendingStage.SecondFactor } pending)
            {
                return Expired;
            }

            userId = pending.UserId;
            returnUrl = pending.ReturnUrl;
        }
        else if (mode == AssertionMode.StepUp)
        {
            if (!Guid.TryParse(http.User.FindFirst(TesseraClaims.Subject)?.Value, out var sessionUser))
            {
                return Failure.Invalid("not_signed_in", "A step-up needs a session; sign in first.");
            }

            userId = sessionUser;
        }

        var allowed = userId is { } id
            ? (await db.Passkeys.AsNoTracking().Where(p => p.UserId == id).Select(p => new { p.CredentialId, p.Transports }).ToListAsync(ct))
                .Select(p => Descriptor(p.CredentialId, p.Transports)).ToList()
            : [];
        var options = Fido2.GetAssertionOptions(new GetAssertionOptionsParams { AllowedCredentials = allowed, UserVerification = UserVerificationRequirement.Required });
        var json = options.ToJson();
        ceremonies.Begin(http, CeremonyPurpose.Assert, mode, userId, json, SignInEndpoints.LocalOnly(returnUrl));
        return Outcome<string>.Ok(json);
    }

    /// <summary>Verifies an assertion for the ceremony this browser started; on success, where the browser goes next.</summary>
    public async Task<Outcome<string>> AssertAsync(HttpContext http, AuthenticatorAssertionRawResponse? response, CancellationToken ct)
    {
        if (response?.Response is null || response.RawId is not { Length: > 0 })
        {
            return Failure.Invalid("invalid_request", "The body needs `credential`: the authenticator's answer (PublicKeyCredential as JSON).");
        }

        var state = ceremonies.End(http, CeremonyPurpose.Assert);
        if (state is null)
        {
            return Expired;
        }

        var action = state.Mode switch { AssertionMode.SecondFactor => "signin.mfa", AssertionMode.StepUp => "mfa.step_up", _ => "signin.passkey" };
        var now = clock.GetUtcNow().UtcDateTime;
        var credentialId = response.RawId;
        var passkey = await db.Passkeys.SingleOrDefaultAsync(p => p.CredentialId == credentialId, ct);
        var user = passkey is null ? null : await db.Users.SingleOrDefaultAsync(u => u.Id == passkey.UserId, ct);
        PendingSignIn? pending = null;

        // Who may answer this ceremony: the mode fixed it when the options were issued.
        string? reason = null;
        switch (state.Mode)
        {
            case AssertionMode.SecondFactor:
                pending = await flow.PendingAsync(http);
                if (pending is not { Stage: PendingStage.SecondFactor } || pending.UserId != state.UserId)
                {
                    return Expired;
                }

                // A failure here is about the pending user, whoever's passkey was shown.
                var pendingUser = user?.Id == pending.UserId ? user : await db.Users.SingleOrDefaultAsync(u => u.Id == pending.UserId, ct);
                reason = passkey is null ? "unknown_credential"
                    : passkey.UserId != pending.UserId ? "other_users_credential"
                    : pendingUser is null || !pendingUser.Standing.MayActAt(now) ? "may_not_act"
                    : null;
                if (reason is not null)
                {
                    return await RefuseSecondFactorAsync(pendingUser, reason, ct);
                }

                break;

            case AssertionMode.StepUp:
                reason = !Guid.TryParse(http.User.FindFirst(TesseraClaims.Subject)?.Value, out var sessionUser) || sessionUser != state.UserId ? "no_session"
                    : passkey is null ? "unknown_credential"
                    : passkey.UserId != sessionUser ? "other_users_credential"
                    : null;
                break;

            default:
                reason = passkey is null || user is null ? "unknown_credential"
                    : Usernames.IsReserved(user.Username) ? "reserved_user"
                    : user.Type != UserType.BackOffice ? "api_user_on_web"
                    : user.Status == UserStatus.Disabled ? "disabled"
                    : user.Standing.IsLockedAt(now) ? "locked"
                    : !user.Standing.MayActAt(now) ? "inactive"
                    : null;
                break;
        }

        if (reason is not null)
        {
            return await RefuseAsync(action, user, reason, ct);
        }

        VerifyAssertionResult verified;
        try
        {
            verified = await Fido2.MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = response,
                OriginalOptions = AssertionOptions.FromJson(state.OptionsJson),
                StoredPublicKey = passkey!.PublicKey,
                StoredSignatureCounter = (uint)passkey.SignatureCounter,
                IsUserHandleOwnerOfCredentialIdCallback = (args, _) =>
                    Task.FromResult(args.UserHandle.AsSpan().SequenceEqual(passkey.UserHandle) && args.CredentialId.AsSpan().SequenceEqual(passkey.CredentialId)),
            }, ct);
        }
        catch (Exception e) when (e is Fido2VerificationException or ArgumentException or FormatException or InvalidOperationException or System.Formats.Cbor.CborContentException)
        {
            logger.LogInformation("A passkey assertion for user {UserId} was refused: {Reason}.", passkey!.UserId, (e as Fido2VerificationException)?.Code.ToString() ?? e.GetType().Name);
            var why = (e as Fido2VerificationException)?.Code == Fido2NetLib.Exceptions.Fido2ErrorCode.InvalidSignCount ? "counter_replay" : "invalid_assertion";
            return state.Mode == AssertionMode.SecondFactor ? await RefuseSecondFactorAsync(user, why, ct) : await RefuseAsync(action, user, why, ct);
        }

        // The counter moves only forward, and only from the value this check read: of two answers with the same counter, one wins.
        var before = passkey.SignatureCounter;
        var updated = await db.Passkeys.Where(p => p.Id == passkey.Id && p.SignatureCounter == before)
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.SignatureCounter, (long)verified.SignCount).SetProperty(p => p.LastUsedAt, now), ct);
        if (updated == 0)
        {
            return state.Mode == AssertionMode.SecondFactor ? await RefuseSecondFactorAsync(user, "counter_replay", ct) : await RefuseAsync(action, user, "counter_replay", ct);
        }

        var details = new { method = "passkey", passkeyId = passkey.Id };
        switch (state.Mode)
        {
            case AssertionMode.SecondFactor:
                audit.Record(db, action, "user", user!.Id.ToString(), user.Username, details, "success", audit.CurrentActor() with { Id = user.Id, Name = user.Username });
                await db.SaveChangesAsync(ct);
                metrics.SecondFactor(Observability.SignInMethods.Passkey, "success");
                return Outcome<string>.Ok(await flow.CompleteSecondFactorAsync(http, pending!, AuthenticationMethods.HardwareKey, ct));

            case AssertionMode.StepUp:
                audit.Record(db, action, "user", user!.Id.ToString(), user.Username, details);
                await db.SaveChangesAsync(ct);
                metrics.SecondFactor(Observability.SignInMethods.Passkey, "success");
                await flow.RecordStepUpAsync(http, AuthenticationMethods.HardwareKey, ct);
                return Outcome<string>.Ok(state.ReturnUrl);

            default:
                if (user!.Apply(user.Standing.SignedIn(now)))
                {
                    callers.Invalidate();
                }

                user.LastSignInAt = now;
                audit.Record(db, action, "user", user.Id.ToString(), user.Username, details, "success", audit.CurrentActor() with { Id = user.Id, Name = user.Username });
                await db.SaveChangesAsync(ct);
                return Outcome<string>.Ok(await flow.ContinueAsync(http, user.Id, [AuthenticationMethods.HardwareKey, AuthenticationMethods.MultiFactor], state.ReturnUrl, ct));
        }
    }

    /// <summary>A refused assertion: recorded (with the reason, for the audit only) and answered with the one generic failure.</summary>
    private async Task<Outcome<string>> RefuseAsync(string action, User? user, string reason, CancellationToken ct)
    {
        audit.Record(db, action, "user", user?.Id.ToString(), user?.Username, new { method = "passkey", reason }, "failure",
            audit.CurrentActor() with { Id = null, Name = "anonymous" });
        await db.SaveChangesAsync(ct);
        if (action == "mfa.step_up")
        {
            metrics.SecondFactor(Observability.SignInMethods.Passkey, "failure");
        }
        else
        {
            metrics.SignIn(Observability.SignInOutcomes.OfReason(reason), Observability.SignInMethods.Passkey);
        }

        return Refused;
    }

    /// <summary>A refused second factor counts toward the pending user's lockout, as a wrong code does.</summary>
    private async Task<Outcome<string>> RefuseSecondFactorAsync(User? pendingUser, string reason, CancellationToken ct)
    {
        metrics.SecondFactor(Observability.SignInMethods.Passkey, "failure");
        if (pendingUser is null)
        {
            return Refused;
        }

        await passwords.CountWrongSecretAsync("signin.mfa", pendingUser, "passkey_failed", ct);
        logger.LogInformation("A passkey second factor for user {UserId} was refused ({Reason}).", pendingUser.Id, reason);
        return Refused;
    }

    /// <summary>The WebAuthn user handle: the user's id, 16 bytes, no personal data.</summary>
    public static byte[] UserHandle(Guid userId) => userId.ToByteArray();

    private static PublicKeyCredentialDescriptor Descriptor(byte[] id, string transports)
        => new(PublicKeyCredentialType.PublicKey, id, [.. transports.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => Enum.TryParse<AuthenticatorTransport>(t, ignoreCase: true, out var parsed) ? parsed : (AuthenticatorTransport?)null)
            .OfType<AuthenticatorTransport>()]);
}
