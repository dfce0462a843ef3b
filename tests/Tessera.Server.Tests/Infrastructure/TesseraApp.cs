using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Server.Storage;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>The real Tessera host over a test database, with known bootstrap credentials.</summary>
public sealed class TesseraApp(TestDatabase database, IReadOnlyDictionary<string, string?>? settings = null) : WebApplicationFactory<Program>
{
    public const string AdminUsername = "admin";
    public const string AdminPassword = "Admin-Password-1234";
    public const string ApiClientId = "bootstrap-api";
    public const string ApiClientSecret = "Api-Client-Secret-1234";

    public TestDatabase Database => database;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        var all = new Dictionary<string, string?>
        {
            ["Tessera:Database:Provider"] = database.Provider,
            ["ConnectionStrings:Tessera"] = database.ConnectionString,
            ["Tessera:PublicUrl"] = "http://localhost",
            ["Tessera:Bootstrap:AdminUsername"] = AdminUsername,
            ["Tessera:Bootstrap:AdminEmail"] = "admin@tessera.test",
            ["Tessera:Bootstrap:AdminPassword"] = AdminPassword,
            ["Tessera:Bootstrap:ApiClientId"] = ApiClientId,
            ["Tessera:Bootstrap:ApiClientSecret"] = ApiClientSecret,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            builder.UseSetting(key, value);
        }
    }

    /// <summary>A fresh scope's DbContext, for tests that inspect or arrange stored state directly.</summary>
    public AsyncServiceScope Scope(out TesseraDbContext db)
    {
        var scope = Services.CreateAsyncScope();
        db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        return scope;
    }
}

/// <summary>One host and database per test class, per provider.</summary>
public abstract class HostFixture(string provider) : IAsyncLifetime
{
    public TesseraApp App { get; private set; } = null!;

    public string Provider => provider;

    public Task InitializeAsync()
    {
        App = new TesseraApp(TestDatabase.Create(provider));
        _ = App.Server; // start now, so migration errors surface in the fixture
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
    }
}

public sealed class SqliteHost() : HostFixture("sqlite");

public sealed class PostgresHost() : HostFixture("postgres");
