using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Tessera.Server.Storage;

/// <summary>`Tessera:Database`: which store to use.</summary>
public sealed class DatabaseOptions
{
    [RegularExpression("^(?i)(sqlite|postgres)$", ErrorMessage = "Tessera:Database:Provider must be 'sqlite' or 'postgres'.")]
    public string Provider { get; set; } = "sqlite";

    /// <summary>
    /// How long a start waits for a database that does not answer (retrying with a growing pause) before it
    /// gives up and stops the service; 0 gives up at the first failure.
    /// </summary>
    [Range(0, 86_400, ErrorMessage = "Tessera:Database:StartRetrySeconds must be a whole number of seconds from 0 to 86400.")]
    public int StartRetrySeconds { get; set; } = 300;
}

public static class StorageSetup
{
    public const string DefaultSqlitePath = "data/tessera.db";

    /// <summary>Registers the DbContext of the configured provider as <see cref="TesseraDbContext"/>.</summary>
    /// <remarks>The choice is read when the first context is made, so hosts and tests may configure late.</remarks>
    public static IServiceCollection AddTesseraStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().Bind(configuration.GetSection("Tessera:Database")).ValidateDataAnnotations().ValidateOnStart();
        // Npgsql's slim builder with arrays (EF Core sends id lists as arrays): only the type support Tessera's schema
        // uses, not every PostgreSQL type's resolver. Measured: 2 MB less idle memory. The host owns and disposes it.
        // Named: the pool's name labels its metrics (db.client.connection.*), and would otherwise be the connection
        // string (host, database and role) in every operator's metrics store.
        services.AddSingleton(sp => new NpgsqlSlimDataSourceBuilder(PostgresConnectionString(sp.GetRequiredService<IConfiguration>())) { Name = "tessera" }.EnableArrays().Build());
        services.AddSingleton<DatabaseOutage>();
        // Instances on one PostgreSQL database clear each other's caches through it (LISTEN/NOTIFY).
        services.AddSingleton<CacheSignals>();
        services.AddHostedService<CacheSignalListener>();
        services.AddDbContextPool<PostgresTesseraDbContext>((sp, o) =>
        {
            var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
            Faults(o.UseNpgsql(dataSource), sp, dataSource.Clear);
            WebhookFanOut(o, sp);
        });
        services.AddDbContextPool<SqliteTesseraDbContext>((sp, o) =>
        {
            Faults(o.UseSqlite(SqliteConnectionString(sp.GetRequiredService<IConfiguration>().GetConnectionString("Tessera"))), sp, clearPool: null);
            WebhookFanOut(o, sp);
        });
        services.AddScoped<TesseraDbContext>(sp => IsPostgres(sp.GetRequiredService<IConfiguration>())
            ? sp.GetRequiredService<PostgresTesseraDbContext>()
            : sp.GetRequiredService<SqliteTesseraDbContext>());
        return services;
    }

    /// <summary>
    /// Every failure of a query reaches its caller as an exception, and whoever handles it decides what to log:
    /// the exception handler logs an unexpected one once, with its stack trace; <see cref="DatabaseOutage"/>
    /// logs an outage once; an expected one (a unique index refusing a duplicate) is not an error at all.
    /// EF Core's own Error entries for the same failures would repeat each of them, a stack trace per request
    /// during an outage, so they are Debug entries.
    /// </summary>
    private static void Faults(DbContextOptionsBuilder options, IServiceProvider services, Action? clearPool)
        => options.AddInterceptors(new DatabaseOutageInterceptor(services.GetRequiredService<DatabaseOutage>(), clearPool))
            .ConfigureWarnings(w => w.Log(
                (RelationalEventId.ConnectionError, LogLevel.Debug),
                (RelationalEventId.CommandError, LogLevel.Debug),
                (RelationalEventId.TransactionError, LogLevel.Debug),
                (CoreEventId.QueryIterationFailed, LogLevel.Debug),
                (CoreEventId.SaveChangesFailed, LogLevel.Debug)));

    /// <summary>Every audit event saved queues its webhook deliveries in the same unit of work (where the host registers webhook delivery).</summary>
    private static void WebhookFanOut(DbContextOptionsBuilder options, IServiceProvider services)
    {
        if (services.GetService<Webhooks.WebhookFanOut>() is { } fanOut)
        {
            options.AddInterceptors(fanOut);
        }
    }

    public static bool IsPostgres(IConfiguration configuration)
        => string.Equals(configuration["Tessera:Database:Provider"]?.Trim(), "postgres", StringComparison.OrdinalIgnoreCase);

    internal static string PostgresConnectionString(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Tessera");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new OptionsValidationException("ConnectionStrings:Tessera", typeof(DatabaseOptions),
                ["ConnectionStrings:Tessera is required when Tessera:Database:Provider is 'postgres'."]);
        }

        return connectionString;
    }

    /// <summary>Accepts a bare path or a full connection string, and makes sure the folder exists.</summary>
    internal static string SqliteConnectionString(string? configured)
    {
        var builder = string.IsNullOrWhiteSpace(configured)
            ? new SqliteConnectionStringBuilder { DataSource = DefaultSqlitePath }
            : configured.Contains('=', StringComparison.Ordinal)
                ? new SqliteConnectionStringBuilder(configured)
                : new SqliteConnectionStringBuilder { DataSource = configured };
        builder.DefaultTimeout = Math.Max(builder.DefaultTimeout, 30);
        if (builder.DataSource != ":memory:" && builder.Mode != SqliteOpenMode.Memory)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }
        }

        return builder.ToString();
    }

    /// <summary>Brings the schema up to date. WAL lets readers go on while one writer works.</summary>
    /// <remarks>
    /// An up-to-date database (every start but the first after an upgrade) is recognised by comparing
    /// the history table with the assembly's migration ids, which takes no lock and builds no model.
    /// Anything pending goes through EF Core's <c>Migrate</c>. On PostgreSQL that runs under a session-level
    /// advisory lock held on a connection of its own, so that of several instances starting together on an
    /// empty database one migrates while the others wait, then find the schema up to date. (EF Core's own
    /// lock is taken after it has begun creating the history table, and instances that started together
    /// collided: "relation already exists", a duplicate history key.) SQLite serves one instance only.
    /// </remarks>
    public static async Task MigrateAsync(this TesseraDbContext db, CancellationToken ct = default)
    {
        if (!await IsUpToDateAsync(db, ct))
        {
            if (db.Provider == DatabaseProvider.Postgres)
            {
                await MigrateUnderLockAsync(db, ct);
            }
            else
            {
                await db.Database.MigrateAsync(ct);
            }
        }

        if (db.Provider == DatabaseProvider.Sqlite)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }
    }

    /// <summary>The key of the advisory lock that migrations run under; other keys of Tessera's are in the same range.</summary>
    internal const long MigrationLockKey = 0x7E55E8A_0000;

    private static async Task MigrateUnderLockAsync(TesseraDbContext db, CancellationToken ct)
    {
        // A connection of its own, with the context's settings and credentials: the context's connection runs the migrations.
        await using var connection = (NpgsqlConnection)((ICloneable)db.Database.GetDbConnection()).Clone();
        await connection.OpenAsync(ct);
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({MigrationLockKey})", connection) { CommandTimeout = 0 })
        {
            // No timeout: the holder is migrating, and a holder that dies releases the lock with its session.
            await take.ExecuteNonQueryAsync(ct);
        }

        try
        {
            // The instance that held the lock before may have applied everything.
            if (!await IsUpToDateAsync(db, ct))
            {
                await db.Database.MigrateAsync(ct);
            }
        }
        finally
        {
            // Released explicitly, since the connection goes back to the pool; if the connection broke, so did the session and its lock.
            try
            {
                await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({MigrationLockKey})", connection);
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (NpgsqlException)
            {
            }
        }
    }

    /// <summary>
    /// Whether the history table lists every migration of the assembly. Read with a plain command:
    /// EF Core's own history repository builds a model of that table first, which costs more than the
    /// query. Any error (no database or no history table yet) answers "no", and Migrate decides.
    /// </summary>
    private static async Task<bool> IsUpToDateAsync(TesseraDbContext db, CancellationToken ct)
    {
        var relational = RelationalOptionsExtension.Extract(db.GetService<IDbContextOptions>());
        var sql = db.GetService<ISqlGenerationHelper>();
        var table = sql.DelimitIdentifier(relational.MigrationsHistoryTableName ?? HistoryRepository.DefaultTableName, relational.MigrationsHistoryTableSchema);
        var pending = db.GetService<IMigrationsAssembly>().Migrations.Keys.ToHashSet(StringComparer.Ordinal);
        try
        {
            await db.Database.OpenConnectionAsync(ct);
            try
            {
                await using var command = db.Database.GetDbConnection().CreateCommand();
                command.CommandText = $"SELECT {sql.DelimitIdentifier("MigrationId")} FROM {table}";
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    pending.Remove(reader.GetString(0));
                }
            }
            finally
            {
                await db.Database.CloseConnectionAsync();
            }
        }
        catch (DbException)
        {
            return false;
        }

        return pending.Count == 0;
    }
}
