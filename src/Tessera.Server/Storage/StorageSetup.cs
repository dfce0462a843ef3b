using System.ComponentModel.DataAnnotations;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Storage;

/// <summary>`Tessera:Database`: which store to use.</summary>
public sealed class DatabaseOptions
{
    [RegularExpression("^(?i)(sqlite|postgres)$", ErrorMessage = "Tessera:Database:Provider must be 'sqlite' or 'postgres'.")]
    public string Provider { get; set; } = "sqlite";
}

public static class StorageSetup
{
    public const string DefaultSqlitePath = "data/tessera.db";

    /// <summary>Registers the DbContext of the configured provider as <see cref="TesseraDbContext"/>.</summary>
    /// <remarks>The choice is read when the first context is made, so hosts and tests may configure late.</remarks>
    public static IServiceCollection AddTesseraStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().Bind(configuration.GetSection("Tessera:Database")).ValidateDataAnnotations().ValidateOnStart();
        services.AddDbContextPool<PostgresTesseraDbContext>((sp, o) => o.UseNpgsql(PostgresConnectionString(sp.GetRequiredService<IConfiguration>())));
        services.AddDbContextPool<SqliteTesseraDbContext>((sp, o) => o.UseSqlite(SqliteConnectionString(sp.GetRequiredService<IConfiguration>().GetConnectionString("Tessera"))));
        services.AddScoped<TesseraDbContext>(sp => IsPostgres(sp.GetRequiredService<IConfiguration>())
            ? sp.GetRequiredService<PostgresTesseraDbContext>()
            : sp.GetRequiredService<SqliteTesseraDbContext>());
        return services;
    }

    public static bool IsPostgres(IConfiguration configuration)
        => string.Equals(configuration["Tessera:Database:Provider"]?.Trim(), "postgres", StringComparison.OrdinalIgnoreCase);

    private static string PostgresConnectionString(IConfiguration configuration)
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
    /// the history table with the assembly's migration ids, which takes no lock and builds no design-time
    /// model. Anything pending goes through EF Core's <c>Migrate</c>, whose lock and re-check keep
    /// instances that start together from applying a migration twice.
    /// </remarks>
    public static async Task MigrateAsync(this TesseraDbContext db, CancellationToken ct = default)
    {
        if ((await db.Database.GetPendingMigrationsAsync(ct)).Any())
        {
            await db.Database.MigrateAsync(ct);
        }

        if (db.Provider == DatabaseProvider.Sqlite)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }
    }
}
