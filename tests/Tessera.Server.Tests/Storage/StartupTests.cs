using System.Globalization;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Storage;

public sealed class SqliteStartupTests() : StartupTests("sqlite");

public sealed class PostgresStartupTests() : StartupTests("postgres");

/// <summary>What the start does to a database: migrations, the compiled model, configured secrets. Each test has its own database.</summary>
public abstract class StartupTests(string provider)
{
    [Fact]
    public async Task A_pending_migration_is_applied_at_start()
    {
        await using var database = TestDatabase.Create(provider);
        string latest;
        await using (var db = Context(database))
        {
            var migrations = db.Database.GetMigrations().ToList();
            latest = migrations[^1];
            await db.GetService<IMigrator>().MigrateAsync(migrations[^2]);
            Assert.Equal([latest], await db.Database.GetPendingMigrationsAsync());
        }

        await using (var app = new TesseraApp(database).Started())
        {
            await using var scope = app.Scope(out var db);
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            Assert.Contains(latest, await db.Database.GetAppliedMigrationsAsync());
            Assert.True(await db.Users.AnyAsync(u => u.Username == TesseraApp.AdminUsername), "the bootstrap ran on the migrated database");
        }

        // A second start on the up-to-date database applies nothing and fails nothing.
        await using (var again = new TesseraApp(database).Started())
        {
            using var client = again.Client();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        }
    }

    [Fact]
    public async Task A_changed_configured_api_secret_takes_effect_at_the_next_start_and_the_old_one_stops_working()
    {
        await using var database = TestDatabase.Create(provider);
        await using (var first = new TesseraApp(database).Started())
        {
            using var client = first.Client();
            await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        }

        const string changed = "A-changed-configured-secret-77";
        await using var restarted = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Bootstrap:ApiClientSecret"] = changed }).Started();
        using var http = restarted.Client();
        Assert.False(string.IsNullOrEmpty(await Seed.TokenAsync(http, TesseraApp.ApiClientId, changed)));
        using var old = await Seed.RequestTokenAsync(http, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        Assert.True(old.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"the old secret got {(int)old.StatusCode}: {await old.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task The_compiled_model_matches_the_model_the_context_configures()
    {
        await using var database = TestDatabase.Create(provider);
        await using var db = Context(database);
        var compiled = Describe(db.Model.GetRelationalModel());
        var configured = Describe(db.GetService<IDesignTimeModel>().Model.GetRelationalModel());
        Assert.True(configured == compiled,
            "The compiled model is out of date: run `dotnet ef dbcontext optimize` for both contexts (see README).\n--- configured\n" + configured + "\n--- compiled\n" + compiled);
    }

    /// <summary>The schema a model maps to, as text: tables, columns, keys, indexes and foreign keys.</summary>
    private static string Describe(IRelationalModel model)
    {
        var text = new System.Text.StringBuilder();
        foreach (var table in model.Tables.OrderBy(t => t.SchemaQualifiedName, StringComparer.Ordinal))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"table {table.SchemaQualifiedName}");
            foreach (var column in table.Columns.OrderBy(c => c.Name, StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  column {column.Name} {column.StoreType} null={column.IsNullable} default={column.DefaultValueSql ?? column.DefaultValue} computed={column.ComputedColumnSql}");
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"  key {table.PrimaryKey?.Name} ({string.Join(",", table.PrimaryKey?.Columns.Select(c => c.Name) ?? [])})");
            foreach (var index in table.Indexes.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  index {index.Name} ({string.Join(",", index.Columns.Select(c => c.Name))}) unique={index.IsUnique} filter={index.Filter}");
            }

            foreach (var unique in table.UniqueConstraints.Where(u => !u.GetIsPrimaryKey()).OrderBy(u => u.Name, StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  unique {unique.Name} ({string.Join(",", unique.Columns.Select(c => c.Name))})");
            }

            foreach (var foreignKey in table.ForeignKeyConstraints.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  foreign key {foreignKey.Name} ({string.Join(",", foreignKey.Columns.Select(c => c.Name))}) -> {foreignKey.PrincipalTable.Name} ({string.Join(",", foreignKey.PrincipalColumns.Select(c => c.Name))}) on delete {foreignKey.OnDeleteAction}");
            }
        }

        return text.ToString();
    }

    [Fact]
    public async Task An_API_users_one_secret_becomes_its_credential_named_initial_when_the_database_is_upgraded()
    {
        await using var database = TestDatabase.Create(provider);
        const string secret = "A-secret-from-before-credentials-1";
        var username = Seed.Unique("legacy");
        string hash;
        await using (var db = Context(database))
        {
            // The database as it was before API users held several credentials: one PBKDF2 hash on the user row.
            var migrations = db.Database.GetMigrations().ToList();
            var before = migrations[migrations.FindIndex(m => m.EndsWith("_ApiCredentials", StringComparison.Ordinal)) - 1];
            await db.GetService<IMigrator>().MigrateAsync(before);
            var now = DateTime.UtcNow;
            var user = new User { Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "", Type = Core.Users.UserType.Api, Status = Core.Users.UserStatus.Active, CreatedAt = now, UpdatedAt = now };
            user.SetUsername(username);
            user.SetEmail(username + "@legacy.test");
            user.PasswordHash = hash = new Microsoft.AspNetCore.Identity.PasswordHasher<User>().HashPassword(user, secret);
            user.PasswordChangedAt = now.AddDays(-3);
            // The entity has columns that later migrations added to users (UserPreferences); they stand in for the insert and go again,
            // so that the upgrade starts from the schema as it was.
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE users ADD COLUMN \"Language\" varchar(8) NULL");
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE users ADD COLUMN \"TimeZone\" varchar(64) NULL");

            db.Users.Add(user);
            await db.SaveChangesAsync();
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE users DROP COLUMN \"Language\"");
            await db.Database.ExecuteSqlRawAsync("ALTER TABLE users DROP COLUMN \"TimeZone\"");
        }

        await using var app = new TesseraApp(database).Started();
        await using (var scope = app.Scope(out var db))
        {
            var user = await db.Users.AsNoTracking().SingleAsync(u => u.Username == username);
            Assert.Null(user.PasswordHash);
            var initial = await db.ApiCredentials.AsNoTracking().SingleAsync(c => c.UserId == user.Id);
            Assert.Equal(("initial", "INITIAL", hash), (initial.Name, initial.NormalizedName, initial.SecretHash));
            Assert.Equal(Core.Credentials.ApiCredentialType.Secret, initial.Type);
        }

        using var client = app.Client();
        Assert.True((await Seed.RequestTokenAsync(client, username, secret)).IsSuccessStatusCode, "the secret from before still gets a token");
    }

    [Fact]
    public async Task A_restart_with_nothing_changed_skips_the_bootstrap_and_a_changed_bootstrap_setting_runs_it()
    {
        await using var database = TestDatabase.Create(provider);
        await using (var first = new TesseraApp(database).Started())
        await using (var scope = first.Scope(out var db))
        {
            Assert.NotNull(await db.Settings.FindAsync(Bootstrap.BootstrapRecord.Key));
            // A change nothing but the bootstrap makes: it shows whether the bootstrap ran at the next start.
            var privilege = await db.Privileges.SingleAsync(p => p.Name == Core.Access.Privileges.ViewUsers);
            privilege.Description = "changed by hand";
            await db.SaveChangesAsync();
        }

        await using (var same = new TesseraApp(database).Started())
        await using (var scope = same.Scope(out var db))
        {
            Assert.Equal("changed by hand", await db.Privileges.Where(p => p.Name == Core.Access.Privileges.ViewUsers).Select(p => p.Description).SingleAsync());
            using var client = same.Client();
            Assert.False(string.IsNullOrEmpty(await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret)), "the skipped start serves as the full one");
        }

        await using (var changed = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Bootstrap:AdminEmail"] = "another-admin@tessera.test" }).Started())
        await using (var scope = changed.Scope(out var db))
        {
            Assert.NotEqual("changed by hand", await db.Privileges.Where(p => p.Name == Core.Access.Privileges.ViewUsers).Select(p => p.Description).SingleAsync());
        }
    }

    [Fact]
    public async Task The_configured_administrator_deleted_through_the_API_is_created_again_at_the_next_start_and_a_disabled_one_stays_disabled()
    {
        await using var database = TestDatabase.Create(provider);
        Guid deleted;
        await using (var first = new TesseraApp(database).Started())
        {
            using var client = first.Client();
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret));
            await using (var scope = first.Scope(out var db))
            {
                deleted = await db.Users.Where(u => u.Username == TesseraApp.AdminUsername).Select(u => u.Id).SingleAsync();
            }

            using var response = await client.DeleteAsync(new Uri($"/api/v1/users/{deleted}", UriKind.Relative));
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        await using (var again = new TesseraApp(database).Started())
        {
            await using (var scope = again.Scope(out var db))
            {
                var admin = await db.Users.Include(u => u.Roles).ThenInclude(r => r.Role).SingleAsync(u => u.Username == TesseraApp.AdminUsername);
                Assert.NotEqual(deleted, admin.Id);
                Assert.Equal([Core.Access.BuiltInRoles.Administrator], admin.Roles.Select(r => r.Role!.Name));
                var hasher = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IPasswordHasher<User>>();
                Assert.NotEqual(Microsoft.AspNetCore.Identity.PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(admin, admin.PasswordHash!, TesseraApp.AdminPassword));
                admin.Status = Core.Users.UserStatus.Disabled;
                await db.SaveChangesAsync();
            }
        }

        await using (var third = new TesseraApp(database).Started())
        await using (var scope = third.Scope(out var db))
        {
            Assert.Equal(Core.Users.UserStatus.Disabled, await db.Users.Where(u => u.Username == TesseraApp.AdminUsername).Select(u => u.Status).SingleAsync());
        }
    }

    private static TesseraDbContext Context(TestDatabase database) => database.Provider == "postgres"
        ? new PostgresTesseraDbContext(new DbContextOptionsBuilder<PostgresTesseraDbContext>().UseNpgsql(database.ConnectionString).Options)
        : new SqliteTesseraDbContext(new DbContextOptionsBuilder<SqliteTesseraDbContext>().UseSqlite(database.ConnectionString).Options);
}
