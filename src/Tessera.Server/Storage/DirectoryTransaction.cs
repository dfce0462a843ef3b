using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Tessera.Server.Storage;

/// <summary>
/// Changes to the directory (users, roles, groups) run one at a time, so that an invariant
/// checked inside the transaction still holds at commit, on either provider. SQLite
/// transactions begin IMMEDIATE (one writer); PostgreSQL takes a transaction-scoped advisory lock.
/// </summary>
public static class DirectoryTransaction
{
    private const long DirectoryLockKey = 0x7E55E8A_0001;

    public static async Task<IDbContextTransaction> BeginDirectoryChangeAsync(this TesseraDbContext db, CancellationToken ct)
    {
        var tx = await db.Database.BeginTransactionAsync(ct);
        if (db.Provider == DatabaseProvider.Postgres)
        {
            await db.Database.ExecuteSqlRawAsync($"SELECT pg_advisory_xact_lock({DirectoryLockKey})", ct);
        }

        return tx;
    }

    /// <summary>True when the save failed only because a unique index refused a duplicate.</summary>
    public static bool IsUniqueViolation(this DbUpdateException exception, out string? constraint)
    {
        constraint = null;
        switch (exception.InnerException)
        {
            case PostgresException pg when pg.SqlState == PostgresErrorCodes.UniqueViolation:
                constraint = pg.ConstraintName;
                return true;
            case SqliteException sqlite when sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555:
                constraint = sqlite.Message;
                return true;
            default:
                return false;
        }
    }
}
