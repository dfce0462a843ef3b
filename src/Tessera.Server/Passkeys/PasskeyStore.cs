using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;

namespace Tessera.Server.Passkeys;

/// <summary>A passkey as the user and administrators see it: no key material.</summary>
public sealed record PasskeyInfo(Guid Id, string Name, DateTime CreatedAt, DateTime? LastUsedAt);

/// <summary>
/// Reads and removes a user's passkeys in the caller's unit of work, so that the MFA administration (list a user's
/// methods, reset them) joins its own transaction, delegation check and audit.
/// </summary>
public sealed class PasskeyStore
{
    public async Task<IReadOnlyList<PasskeyInfo>> ListAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
        => await db.Passkeys.AsNoTracking().Where(p => p.UserId == userId).OrderBy(p => p.CreatedAt).ThenBy(p => p.Id)
            .Select(p => new PasskeyInfo(p.Id, p.Name, p.CreatedAt, p.LastUsedAt)).ToListAsync(ct);

    /// <summary>Removes every passkey of the user at once; returns how many there were. The caller audits and commits.</summary>
    public Task<int> RemoveAllAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
        => db.Passkeys.Where(p => p.UserId == userId).ExecuteDeleteAsync(ct);

    public Task<bool> AnyAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
        => db.Passkeys.AnyAsync(p => p.UserId == userId, ct);
}
