using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;
using Tessera.Core.Users;
using Tessera.Server.Credentials;
using Tessera.Server.Storage;

namespace Tessera.Bench;

/// <summary>
/// `seed`: loads N synthetic users with roles, groups and memberships through each provider's bulk
/// path (SQLite: one transaction of prepared multi-row INSERTs; PostgreSQL: binary COPY). The rows
/// carry the normalized, search and look-alike skeleton columns exactly as <see cref="User"/>'s setters fill them,
/// so that the server's first start on a seeded database has no skeletons to backfill.
/// </summary>
internal static class Seeder
{
    /// <summary>The password of the bench API clients (bench-client-00 …), each an active API user.</summary>
    public const string ClientSecret = "bench-Secret-4f1c9e27!";
    public const string ClientPrefix = "bench-client-";
    public const int Clients = 20;
    public const string RolePrefix = "Bench ";

    private static readonly string[] FirstNames =
    [
        "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Karin", "Lukas", "Maria", "Noah", "Olivia",
        "Paul", "Quinn", "Rosa", "Samuel", "Tara", "Ulrich", "Vera", "William", "Xenia", "Yusuf", "Zoe", "Amelie", "Bruno", "Chloe", "Dario",
        "Emma", "Finn", "Greta", "Henrik", "Ida", "Jan", "Kemal", "Lea", "Mats", "Nina", "Oskar", "Pia", "Rafael", "Sofia", "Tomas", "Ursula",
    ];

    private static readonly string[] LastNames =
    [
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein",
        "Wolf", "Schröder", "Neumann", "Schwarz", "Braun", "Zimmermann", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Smith", "Johnson",
        "Garcia", "Martinez", "Rossi", "Bianchi", "Dubois", "Moreau", "Novak", "Kowalski", "Nielsen", "Jensen", "Silva", "Costa", "Yilmaz", "Kaya",
    ];

    private static readonly string[] Domains = ["example.com", "example.org", "shop.example", "corp.example", "mail.example"];

    private static readonly string[] RoleNames = ["Support", "Sales", "Finance", "Warehouse", "Marketing", "Auditor", "Catalog", "Reporting"];
    private static readonly string[] GroupNames = ["Berlin Office", "Vienna Office", "Night Shift", "Key Accounts", "Contractors"];

    public static async Task<int> RunAsync(Args args)
    {
        var provider = args.Get("provider", "sqlite").ToLowerInvariant();
        var connection = args.Get("connection") ?? throw new ArgumentException("--connection is required (a SQLite file or connection string, or a PostgreSQL connection string).");
        var users = args.Int("users", 1_000_000);
        var watch = Stopwatch.StartNew();
        await SeedAsync(provider, connection, users, Console.Out);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed: {users:N0} users into {provider} in {watch.Elapsed.TotalSeconds:F1} s ({users / watch.Elapsed.TotalSeconds:N0} users/s)"));
        return 0;
    }

    public static async Task SeedAsync(string provider, string connection, int count, TextWriter log)
    {
        var postgres = provider switch
        {
            "postgres" => true,
            "sqlite" => false,
            _ => throw new ArgumentException("--provider must be sqlite or postgres."),
        };

        var now = DateTime.UtcNow;
        var watch = Stopwatch.StartNew();
        await using (var db = CreateContext(postgres, connection))
        {
            await db.MigrateAsync();
            if (await db.Users.AnyAsync(u => u.NormalizedUsername.StartsWith("BENCH-CLIENT-")))
            {
                throw new InvalidOperationException("This database is already seeded; seed a fresh one.");
            }

            await SeedDirectoryAsync(db, now);
        }

        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed: schema and {RoleNames.Length} roles, {GroupNames.Length} groups in {watch.Elapsed.TotalSeconds:F1} s"));
        var (roleIds, groupIds) = await LoadIdsAsync(postgres, connection);

        // One PBKDF2 hash (the server's cost), shared by the bench clients: they all use ClientSecret.
        var hasher = new PasswordHasher<User>(Microsoft.Extensions.Options.Options.Create(new PasswordHasherOptions { IterationCount = PasswordHashing.Iterations }));
        var clientHash = hasher.HashPassword(null!, ClientSecret);
        var rows = Generate(count, now, roleIds, groupIds);
        if (postgres)
        {
            await CopyPostgresAsync(connection, rows);
        }
        else
        {
            await InsertSqliteAsync(connection, rows);
        }

        // The bench clients' secret is their credential named "initial", as the application keeps it.
        await using (var db = CreateContext(postgres, connection))
        {
            var clients = await db.Users.Where(u => u.NormalizedUsername.StartsWith("BENCH-CLIENT-")).Select(u => u.Id).ToListAsync();
            db.ApiCredentials.AddRange(clients.Select(id => new ApiCredential
            {
                UserId = id, Name = "initial", NormalizedName = "INITIAL", Type = Core.Credentials.ApiCredentialType.Secret, SecretHash = clientHash, CreatedAt = now,
            }));
            await db.SaveChangesAsync();
        }
    }

    internal static TesseraDbContext CreateContext(bool postgres, string connection) => postgres
        ? new PostgresTesseraDbContext(new DbContextOptionsBuilder<PostgresTesseraDbContext>().UseNpgsql(connection).Options)
        : new SqliteTesseraDbContext(new DbContextOptionsBuilder<SqliteTesseraDbContext>().UseSqlite(SqliteConnection(connection)).Options);

    internal static string SqliteConnection(string connection)
    {
        var builder = connection.Contains('=', StringComparison.Ordinal) ? new SqliteConnectionStringBuilder(connection) : new SqliteConnectionStringBuilder { DataSource = connection };
        var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        return builder.ToString();
    }

    private static async Task SeedDirectoryAsync(TesseraDbContext db, DateTime now)
    {
        // The server's bootstrap keeps the catalog up to date; the roles below need it before the first start.
        var known = await db.Privileges.Select(p => p.Name).ToListAsync();
        foreach (var (name, description) in Tessera.Core.Access.Privileges.Catalog.Where(p => !known.Contains(p.Name)))
        {
            db.Privileges.Add(new Privilege { Name = name, Description = description });
        }

        var roles = new List<Role>();
        for (var r = 0; r < RoleNames.Length; r++)
        {
            var name = RolePrefix + RoleNames[r];
            var role = new Role { Name = name, NormalizedName = name.ToUpperInvariant(), NameSkeleton = Skeletons.Of(name), Description = "Synthetic role of the benchmarks.", CreatedAt = now, UpdatedAt = now };
            role.Privileges.Add(new RolePrivilege { Privilege = Tessera.Core.Access.Privileges.ViewUsers });

            // Ten rules each: allows on the role's sections, a deny that beats an allow, a wildcard action.
            var section = RoleNames[r].ToLowerInvariant();
            for (var i = 0; i < 8; i++)
            {
                role.Permissions.Add(new RolePermission { Resource = $"{section}.area{i}", Action = i % 2 == 0 ? "read" : "edit", Effect = "allow" });
            }

            role.Permissions.Add(new RolePermission { Resource = $"{section}.reports", Action = "*", Effect = "allow" });
            role.Permissions.Add(new RolePermission { Resource = $"{section}.area1", Action = "delete", Effect = "deny" });
            roles.Add(role);
            db.Roles.Add(role);
        }

        for (var g = 0; g < GroupNames.Length; g++)
        {
            var group = new Group { Name = GroupNames[g], NormalizedName = GroupNames[g].ToUpperInvariant(), NameSkeleton = Skeletons.Of(GroupNames[g]), Description = "Synthetic group of the benchmarks.", CreatedAt = now, UpdatedAt = now };
            group.Roles.Add(new GroupRole { RoleId = roles[(g * 3 + 1) % roles.Count].Id });
            db.Groups.Add(group);
        }

        await db.SaveChangesAsync();
    }

    private static async Task<(Guid[] Roles, Guid[] Groups)> LoadIdsAsync(bool postgres, string connection)
    {
        await using var db = CreateContext(postgres, connection);
        var roles = new List<Guid>();
        foreach (var name in RoleNames)
        {
            var normalized = (RolePrefix + name).ToUpperInvariant();
            roles.Add(await db.Roles.Where(r => r.NormalizedName == normalized).Select(r => r.Id).SingleAsync());
        }

        var groups = new List<Guid>();
        foreach (var name in GroupNames)
        {
            var normalized = name.ToUpperInvariant();
            groups.Add(await db.Groups.Where(g => g.NormalizedName == normalized).Select(g => g.Id).SingleAsync());
        }

        return ([.. roles], [.. groups]);
    }

    /// <summary>One generated user with their direct roles and groups.</summary>
    internal sealed record SeedRow(User User, Guid[] Roles, Guid[] Groups);

    /// <summary>Deterministic (fixed seed), so that runs and figures can be compared.</summary>
    private static IEnumerable<SeedRow> Generate(int count, DateTime now, Guid[] roleIds, Guid[] groupIds)
    {
        var random = new Random(20261125);
        var stamp = new byte[16];
        var start = now.AddYears(-3);
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(stamp);
            var client = i < Clients;
            var first = FirstNames[random.Next(FirstNames.Length)];
            var last = LastNames[random.Next(LastNames.Length)];
            var at = start.AddSeconds(i * (94_608_000.0 / Math.Max(count, 1)));
            var user = new User
            {
                Id = Guid.CreateVersion7(new DateTimeOffset(at, TimeSpan.Zero)),
                Username = "",
                NormalizedUsername = "",
                Email = "",
                NormalizedEmail = "",
                Type = client || random.Next(20) == 0 ? UserType.Api : UserType.BackOffice,
                Status = client ? UserStatus.Active : random.Next(50) switch { 0 => UserStatus.Disabled, 1 => UserStatus.Invited, _ => UserStatus.Active },
                CredentialMode = CredentialMode.Password,
                SecurityStamp = Convert.ToHexString(stamp),
                CreatedAt = at,
                UpdatedAt = at,
            };

            // The setters the application uses, so normalized and search columns are exactly what it would write.
            var ascii = Ascii(first).ToLowerInvariant() + "." + Ascii(last).ToLowerInvariant();
            user.SetUsername(client ? ClientPrefix + i.ToString("D2", CultureInfo.InvariantCulture) : ascii + i.ToString(CultureInfo.InvariantCulture));
            user.SetEmail(client ? $"{user.Username}@bench.example" : $"{ascii}{i}@{Domains[random.Next(Domains.Length)]}");
            user.SetNames(client ? "Bench" : first, client ? "Client" : last);
            if (client)
            {
                user.PasswordChangedAt = now;
            }

            var roleCount = client ? 0 : random.Next(1, 3);
            var roles = new Guid[roleCount];
            var firstRole = random.Next(roleIds.Length);
            for (var r = 0; r < roleCount; r++)
            {
                roles[r] = roleIds[(firstRole + r) % roleIds.Length];
            }

            var groups = !client && random.Next(3) == 0 ? [groupIds[random.Next(groupIds.Length)]] : Array.Empty<Guid>();
            yield return new SeedRow(user, roles, groups);
        }
    }

    private static string Ascii(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name.Normalize(NormalizationForm.FormD))
        {
            if (char.IsAsciiLetter(c))
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static readonly string[] UserColumns =
    [
        "Id", "Username", "NormalizedUsername", "Email", "NormalizedEmail", "FirstName", "LastName", "SearchText", "NormalizedFirstName",
        "NormalizedLastName", "Type", "Status", "CredentialMode", "PasswordHash", "PasswordChangedAt", "SecurityStamp", "CreatedAt", "UpdatedAt",
        "LastSignInAt", "FailedSignInCount", "LockedUntil", "UsernameSkeleton", "EmailSkeleton",
    ];

    private static object?[] Values(User u) =>
    [
        u.Id, u.Username, u.NormalizedUsername, u.Email, u.NormalizedEmail, u.FirstName, u.LastName, u.SearchText, u.NormalizedFirstName,
        u.NormalizedLastName, u.Type.ToWire(), u.Status.ToString(), u.CredentialMode.ToString(), u.PasswordHash, u.PasswordChangedAt, u.SecurityStamp,
        u.CreatedAt, u.UpdatedAt, u.LastSignInAt, u.FailedSignInCount, u.LockedUntil, u.UsernameSkeleton, u.EmailSkeleton,
    ];

    private static async Task InsertSqliteAsync(string connection, IEnumerable<SeedRow> rows)
    {
        const int Batch = 100;
        await using var sqlite = new SqliteConnection(SqliteConnection(connection));
        await sqlite.OpenAsync();
        await using (var pragma = sqlite.CreateCommand())
        {
            // Links are flushed in their own batches, ahead of their users' batch: the data is consistent by construction.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-200000; PRAGMA foreign_keys=OFF;";
            await pragma.ExecuteNonQueryAsync();
        }

        await using var tx = (SqliteTransaction)await sqlite.BeginTransactionAsync();
        var users = new MultiRowInsert(sqlite, tx, "users", UserColumns, Batch);
        var userRoles = new MultiRowInsert(sqlite, tx, "user_roles", ["UserId", "RoleId"], Batch);
        var members = new MultiRowInsert(sqlite, tx, "group_members", ["GroupId", "UserId"], Batch);
        foreach (var row in rows)
        {
            await users.AddAsync(Values(row.User));
            foreach (var role in row.Roles)
            {
                await userRoles.AddAsync([row.User.Id, role]);
            }

            foreach (var group in row.Groups)
            {
                await members.AddAsync([group, row.User.Id]);
            }
        }

        await users.FlushAsync();
        await userRoles.FlushAsync();
        await members.FlushAsync();
        await tx.CommitAsync();
        await using var analyze = sqlite.CreateCommand();
        analyze.CommandText = "ANALYZE;";
        await analyze.ExecuteNonQueryAsync();
    }

    /// <summary>Prepared `INSERT … VALUES (…), (…)` of a fixed number of rows, and one for the rest.</summary>
    private sealed class MultiRowInsert(SqliteConnection connection, SqliteTransaction tx, string table, string[] columns, int batch)
    {
        private readonly List<object?[]> pending = new(batch);
        private SqliteCommand? full;

        public async Task AddAsync(object?[] values)
        {
            pending.Add(values);
            if (pending.Count == batch)
            {
                full ??= Prepare(batch);
                await RunAsync(full);
            }
        }

        public async Task FlushAsync()
        {
            if (pending.Count > 0)
            {
                await using var rest = Prepare(pending.Count);
                await RunAsync(rest);
            }

            if (full is not null)
            {
                await full.DisposeAsync();
            }
        }

        private async Task RunAsync(SqliteCommand command)
        {
            var p = 0;
            foreach (var row in pending)
            {
                foreach (var value in row)
                {
                    command.Parameters[p++].Value = value switch
                    {
                        null => DBNull.Value,
                        Guid g => g.ToString().ToUpperInvariant(), // EF Core's SQLite representation of a Guid
                        DateTime d => d.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture),
                        _ => value,
                    };
                }
            }

            await command.ExecuteNonQueryAsync();
            pending.Clear();
        }

        private SqliteCommand Prepare(int rows)
        {
            var sql = new StringBuilder($"INSERT INTO \"{table}\" ({string.Join(", ", columns.Select(c => $"\"{c}\""))}) VALUES ");
            var command = connection.CreateCommand();
            command.Transaction = tx;
            for (var r = 0; r < rows; r++)
            {
                sql.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < columns.Length; c++)
                {
                    var name = $"@p{r}_{c}";
                    sql.Append(c == 0 ? name : ", " + name);
                    command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
                }

                sql.Append(')');
            }

            command.CommandText = sql.ToString();
            command.Prepare();
            return command;
        }
    }

    private static async Task CopyPostgresAsync(string connection, IEnumerable<SeedRow> rows)
    {
        // A million rows into indexed tables (the trigram GIN index among them) take minutes to complete:
        // no command timeout for the bulk load.
        await using var pg = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connection) { CommandTimeout = 0 }.ConnectionString);
        await pg.OpenAsync();
        var links = new List<(Guid User, Guid Role)>();
        var memberships = new List<(Guid Group, Guid User)>();
        await using (var writer = await pg.BeginBinaryImportAsync($"COPY users ({string.Join(", ", UserColumns.Select(c => $"\"{c}\""))}) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in rows)
            {
                var u = row.User;
                await writer.StartRowAsync();
                await writer.WriteAsync(u.Id, NpgsqlDbType.Uuid);
                await writer.WriteAsync(u.Username, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.NormalizedUsername, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.Email, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.NormalizedEmail, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.FirstName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.LastName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.SearchText, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.NormalizedFirstName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.NormalizedLastName, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.Type.ToWire(), NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.Status.ToString(), NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.CredentialMode.ToString(), NpgsqlDbType.Varchar);
                await WriteNullableAsync(writer, u.PasswordHash, NpgsqlDbType.Varchar);
                await WriteNullableAsync(writer, u.PasswordChangedAt, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(u.SecurityStamp, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.CreatedAt, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(u.UpdatedAt, NpgsqlDbType.TimestampTz);
                await WriteNullableAsync(writer, u.LastSignInAt, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(u.FailedSignInCount, NpgsqlDbType.Integer);
                await WriteNullableAsync(writer, u.LockedUntil, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(u.UsernameSkeleton, NpgsqlDbType.Varchar);
                await writer.WriteAsync(u.EmailSkeleton, NpgsqlDbType.Varchar);
                links.AddRange(row.Roles.Select(r => (u.Id, r)));
                memberships.AddRange(row.Groups.Select(g => (g, u.Id)));
            }

            await writer.CompleteAsync();
        }

        await using (var writer = await pg.BeginBinaryImportAsync("COPY user_roles (\"UserId\", \"RoleId\") FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (user, role) in links)
            {
                await writer.WriteRowAsync(default, user, role);
            }

            await writer.CompleteAsync();
        }

        await using (var writer = await pg.BeginBinaryImportAsync("COPY group_members (\"GroupId\", \"UserId\") FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var (group, user) in memberships)
            {
                await writer.WriteRowAsync(default, group, user);
            }

            await writer.CompleteAsync();
        }

        // VACUUM sets the visibility map, as autovacuum would on a live database, so index-only scans read no rows.
        await using var analyze = new NpgsqlCommand("VACUUM ANALYZE;", pg);
        await analyze.ExecuteNonQueryAsync();
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter writer, string? value, NpgsqlDbType type)
    {
        if (value is null)
        {
            await writer.WriteNullAsync();
        }
        else
        {
            await writer.WriteAsync(value, type);
        }
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter writer, DateTime? value, NpgsqlDbType type)
    {
        if (value is null)
        {
            await writer.WriteNullAsync();
        }
        else
        {
            await writer.WriteAsync(value.Value, type);
        }
    }
}
