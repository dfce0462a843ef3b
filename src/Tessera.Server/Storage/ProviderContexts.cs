using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Tessera.Server.Storage;

/// <summary>The embedded default: one SQLite file.</summary>
public sealed class SqliteTesseraDbContext(DbContextOptions<SqliteTesseraDbContext> options) : TesseraDbContext(options)
{
    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        base.ConfigureConventions(configurationBuilder);

        // SQLite keeps no time zone: everything Tessera stores is UTC, so say so when reading back.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

/// <summary>The production store: a PostgreSQL database shared by every instance.</summary>
public sealed class PostgresTesseraDbContext(DbContextOptions<PostgresTesseraDbContext> options) : TesseraDbContext(options)
{
    public override DatabaseProvider Provider => DatabaseProvider.Postgres;
}

/// <summary>Lets `dotnet ef` build the SQLite model without starting the host.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteTesseraDbContext>
{
    public SqliteTesseraDbContext CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<SqliteTesseraDbContext>().UseSqlite("Data Source=design.db").Options);
}

/// <summary>Lets `dotnet ef` build the PostgreSQL model without starting the host.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresTesseraDbContext>
{
    public PostgresTesseraDbContext CreateDbContext(string[] args)
        => new(new DbContextOptionsBuilder<PostgresTesseraDbContext>().UseNpgsql("Host=localhost;Database=design").Options);
}
