using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Bootstrap;

/// <summary>
/// What the last bootstrap left, so that a start with nothing changed can skip it: a fingerprint of the
/// bootstrap's inputs (this build of Tessera, which fixes the privilege catalog, the built-in roles and the
/// migrations; the configured administrator and API client) and of the rows it guarantees (the reserved user,
/// the configured users with their ids and secret hashes, the API client's "initial" credential), stored in the
/// settings table by the bootstrap in its own transaction.
/// </summary>
/// <remarks>
/// The start reads it back with one plain query (no EF Core query is compiled, which is most of the bootstrap's
/// cost) and skips the bootstrap only when (1) the fingerprint matches, (2) every row that needs a look-alike
/// skeleton has one, and (3) each configured secret still verifies against its stored hash (a PBKDF2 run, as the
/// bootstrap itself does: the fingerprint holds no fast hash of a secret, which would weaken the stored one).
/// Anything else runs the whole bootstrap, which is idempotent and writes a new fingerprint. So the bootstrap's
/// contract holds whichever way a start goes: after a start the catalog and the built-in roles are this build's,
/// the reserved user and the configured administrator and API client exist (created again if they were deleted,
/// through the API or otherwise), and a changed configured secret is applied unless a person has set their own
/// since. A configured user disabled through the API stays disabled, as before; the built-in roles and the
/// reserved user cannot be changed through the API. Instances starting together on PostgreSQL either skip on the
/// same committed fingerprint or run the bootstrap under its directory lock, one after the other.
/// </remarks>
public static class BootstrapRecord
{
    public const string Key = "bootstrap.fingerprint";

    private static readonly string Build = string.Join(',',
        typeof(BootstrapRecord).Assembly.ManifestModule.ModuleVersionId, typeof(Privileges).Assembly.ManifestModule.ModuleVersionId);

    /// <summary>The fingerprint of what the database holds now, with the configured inputs; null when a row that needs a skeleton has none.</summary>
    internal static async Task<(string? Stored, string? Current, IReadOnlyDictionary<string, string> Rows)> ReadAsync(TesseraDbContext db, BootstrapOptions options, CancellationToken ct)
    {
        var reserved = Usernames.ReservedNormalized;
        var admin = Usernames.Normalize(options.AdminUsername);
        var client = string.IsNullOrWhiteSpace(options.ApiClientId) ? "" : Usernames.Normalize(options.ApiClientId);
        var initial = Core.Credentials.ApiCredentialRules.NormalizeName(Core.Credentials.ApiCredentialRules.InitialName);
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var connection = db.Database.GetDbConnection();
        var opened = connection.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await db.Database.OpenConnectionAsync(ct);
        }

        try
        {
            await using var command = connection.CreateCommand();
            command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
            // Text columns only, so that one statement serves both providers; ids are cast to text.
            command.CommandText = """
                SELECT 'fingerprint', "Value" FROM settings WHERE "Key" = @key
                UNION ALL
                SELECT 'user ' || "NormalizedUsername", CAST("Id" AS TEXT) || ' ' || COALESCE("PasswordHash", '') FROM users WHERE "NormalizedUsername" IN (@reserved, @admin, @client)
                UNION ALL
                SELECT 'initial', CAST(c."Id" AS TEXT) || ' ' || COALESCE(c."SecretHash", '') FROM api_credentials c JOIN users u ON u."Id" = c."UserId"
                  WHERE u."NormalizedUsername" = @client AND c."NormalizedName" = @initial
                UNION ALL
                SELECT 'unfilled users', '' WHERE EXISTS (SELECT 1 FROM users WHERE "UsernameSkeleton" = '')
                UNION ALL
                SELECT 'unfilled emails', '' WHERE EXISTS (SELECT 1 FROM users WHERE "EmailSkeleton" = '')
                UNION ALL
                SELECT 'unfilled roles', '' WHERE EXISTS (SELECT 1 FROM roles WHERE "NameSkeleton" = '')
                UNION ALL
                SELECT 'unfilled groups', '' WHERE EXISTS (SELECT 1 FROM groups WHERE "NameSkeleton" = '')
                """;
            Add(command, "key", Key);
            Add(command, "reserved", reserved);
            Add(command, "admin", admin);
            Add(command, "client", client);
            Add(command, "initial", initial);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows[reader.GetString(0)] = reader.GetString(1);
            }
        }
        finally
        {
            if (opened)
            {
                await db.Database.CloseConnectionAsync();
            }
        }

        rows.Remove("fingerprint", out var stored);
        var current = rows.Keys.Any(k => k.StartsWith("unfilled", StringComparison.Ordinal)) ? null : Fingerprint(options, rows);
        return (stored, current, rows);
    }

    /// <summary>
    /// Whether the bootstrap would change nothing: the stored fingerprint is the current one and each configured
    /// secret verifies against the stored hash (both checks at once, as the bootstrap runs them).
    /// </summary>
    internal static async Task<bool> IsCurrentAsync(TesseraDbContext db, BootstrapOptions options, IPasswordHasher<User> hasher, CancellationToken ct)
    {
        var (stored, current, rows) = await ReadAsync(db, options, ct);
        if (stored is null || current is null || !string.Equals(stored, current, StringComparison.Ordinal))
        {
            return false;
        }

        var checks = new List<Task<bool>>();
        if (!string.IsNullOrEmpty(options.AdminPassword))
        {
            checks.Add(VerifiesAsync(hasher, rows.GetValueOrDefault("user " + Usernames.Normalize(options.AdminUsername)), options.AdminPassword));
        }

        if (!string.IsNullOrWhiteSpace(options.ApiClientId) && !string.IsNullOrEmpty(options.ApiClientSecret))
        {
            // The client's configured secret is its "initial" credential; a user row from before keeps it in PasswordHash.
            checks.Add(VerifiesAsync(hasher, rows.GetValueOrDefault("initial") ?? rows.GetValueOrDefault("user " + Usernames.Normalize(options.ApiClientId)), options.ApiClientSecret));
        }

        return (await Task.WhenAll(checks)).All(ok => ok);
    }

    /// <summary>Writes the fingerprint of the database as the bootstrap leaves it, inside its transaction.</summary>
    internal static async Task StoreAsync(TesseraDbContext db, BootstrapOptions options, DateTime now, CancellationToken ct)
    {
        var (_, current, _) = await ReadAsync(db, options, ct);
        var setting = await db.Settings.FindAsync([Key], ct);
        if (current is null)
        {
            // Rows without a skeleton came in during the bootstrap: no fingerprint, so the next start looks again.
            if (setting is not null)
            {
                db.Settings.Remove(setting);
            }
        }
        else if (setting is null)
        {
            db.Settings.Add(new Setting { Key = Key, Value = current, UpdatedAt = now });
        }
        else if (setting.Value != current)
        {
            setting.Value = current;
            setting.UpdatedAt = now;
        }

        await db.SaveChangesAsync(ct);
    }

    private static Task<bool> VerifiesAsync(IPasswordHasher<User> hasher, string? idAndHash, string configured)
    {
        var hash = idAndHash?[(idAndHash.IndexOf(' ', StringComparison.Ordinal) + 1)..];
        if (string.IsNullOrEmpty(hash) || ApiCredentials.ApiSecrets.IsGenerated(hash))
        {
            return Task.FromResult(false);
        }

        // The hasher reads no member of the user for its format.
        return Task.Run(() => hasher.VerifyHashedPassword(null!, hash, configured) != PasswordVerificationResult.Failed);
    }

    private static string Fingerprint(BootstrapOptions options, IReadOnlyDictionary<string, string> rows)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"build {Build}\nadmin {options.AdminUsername}\nemail {options.AdminEmail}\nclient {options.ApiClientId}\n");
        text.Append(CultureInfo.InvariantCulture, $"secrets {!string.IsNullOrEmpty(options.AdminPassword)} {!string.IsNullOrEmpty(options.ApiClientSecret)}\n");
        foreach (var (key, value) in rows)
        {
            text.Append(key).Append(' ').Append(value).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void Add(DbCommand command, string name, string value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
