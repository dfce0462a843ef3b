using Tessera.Server.Mfa;
using Tessera.Server.Storage;

namespace Tessera.Server.Passkeys;

/// <summary>
/// Passkeys among a user's second factors: the MFA administration lists them beside TOTP and recovery codes, a user
/// holding one counts as enrolled, and an administrator's reset removes them inside its own transaction and audit.
/// </summary>
public sealed class PasskeyMethods(PasskeyStore store) : IMfaMethodSource, IMfaMethodReset
{
    public const string Type = "passkey";

    public async Task<IReadOnlyList<MfaMethodResponse>> ListAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
        => [.. (await store.ListAsync(db, userId, ct)).Select(p => new MfaMethodResponse(Type, p.CreatedAt, p.LastUsedAt, Id: p.Id.ToString(), Name: p.Name))];

    public Task<bool> AnyAsync(TesseraDbContext db, Guid userId, CancellationToken ct) => store.AnyAsync(db, userId, ct);

    public Task ResetAsync(TesseraDbContext db, Guid userId, CancellationToken ct) => store.RemoveAllAsync(db, userId, ct);
}
