using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>A database of its own for one test class, on one of the two providers.</summary>
public abstract class TestDatabase : IAsyncDisposable
{
    public abstract string Provider { get; }

    public abstract string ConnectionString { get; }

    public abstract ValueTask DisposeAsync();

    public static TestDatabase Create(string provider) => provider switch
    {
        "sqlite" => new SqliteTestDatabase(),
        "postgres" => PostgresTestDatabase.Create(),
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };
}

public sealed class SqliteTestDatabase : TestDatabase
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tessera-test-").FullName;

    public override string Provider => "sqlite";

    public override string ConnectionString => new SqliteConnectionStringBuilder { DataSource = Path.Combine(_folder, "tessera.db") }.ToString();

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A host that is still shutting down may hold the file; the temp folder is cleaned by the OS.
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A fresh database in the PostgreSQL cluster that test.sh starts (TESSERA_TEST_POSTGRES).</summary>
public sealed class PostgresTestDatabase : TestDatabase
{
    public const string Variable = "TESSERA_TEST_POSTGRES";

    private readonly string _admin;
    private readonly string _name;

    private PostgresTestDatabase(string admin, string name)
    {
        _admin = admin;
        _name = name;
    }

    public override string Provider => "postgres";

    public override string ConnectionString => new NpgsqlConnectionStringBuilder(_admin) { Database = _name }.ToString();

    public static string AdminConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException($"{Variable} is not set: run the tests through ./test.sh, which starts a PostgreSQL cluster, or set it to a cluster's connection string.");

    public static PostgresTestDatabase Create()
    {
        var admin = AdminConnectionString;
        var name = "tessera_test_" + Guid.NewGuid().ToString("N")[..12];
        using var connection = new NpgsqlConnection(admin);
        connection.Open();
        using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        command.ExecuteNonQuery();
        return new PostgresTestDatabase(admin, name);
    }

    public async Task DropAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_admin);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    public override async ValueTask DisposeAsync() => await DropAsync();
}
