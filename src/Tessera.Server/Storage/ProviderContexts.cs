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

    internal sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

/// <summary>The production store: a PostgreSQL database shared by every instance.</summary>
public sealed class PostgresTesseraDbContext(DbContextOptions<PostgresTesseraDbContext> options) : TesseraDbContext(options)
{
    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<User>(e =>
        {
            // Normalized keys are compared byte by byte, as SQLite's BINARY does: the same order on both providers,
            // whatever the cluster's locale, and one B-tree serves both `LIKE 'prefix%'` and ORDER BY.
            e.Property(u => u.NormalizedUsername).UseCollation("C");
            e.Property(u => u.NormalizedEmail).UseCollation("C");
            e.Property(u => u.NormalizedFirstName).UseCollation("C");
            e.Property(u => u.NormalizedLastName).UseCollation("C");

            // A name prefix sorted by username picks the page from these indexes alone and reads 51 rows.
            e.HasIndex(u => new { u.NormalizedFirstName, u.NormalizedUsername }).IncludeProperties(u => u.Id);
            e.HasIndex(u => new { u.NormalizedLastName, u.NormalizedUsername }).IncludeProperties(u => u.Id);
            e.HasIndex(u => new { u.NormalizedEmail, u.NormalizedUsername }).IncludeProperties(u => u.Id);

            // Walking the username order for q, or to the page after a cursor, reads this index alone.
            e.HasIndex(u => u.NormalizedUsername, "IX_users_NormalizedUsername_SearchText").IncludeProperties(u => new { u.SearchText, u.Id });
        });
    }
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
