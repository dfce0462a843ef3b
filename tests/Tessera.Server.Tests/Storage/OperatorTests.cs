using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Storage;

/// <summary>Tessera run as an operator runs it: the built service in its own process.</summary>
public sealed class OperatorTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tessera-operator-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    private static Dictionary<string, string> Environment(int port) => new()
    {
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        ["Tessera__PublicUrl"] = $"http://127.0.0.1:{port}",
    };

    [Fact]
    public async Task The_first_start_prints_a_set_password_link_once_and_a_second_start_creates_nothing_new()
    {
        var port = FreePort();
        string first;
        await using (var server = ServerProcess.Start(_folder.FullName, Environment(port)))
        {
            await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/openapi/v1.json")).StatusCode);
            server.Terminate();
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            first = server.Output;
        }

        Assert.True(File.Exists(Path.Combine(_folder.FullName, "data", "tessera.db")), "data/tessera.db is created under the working directory");
        Assert.Contains($"http://127.0.0.1:{port}/set-password?token=", first, StringComparison.Ordinal);

        await using (var server = ServerProcess.Start(_folder.FullName, Environment(port)))
        {
            await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
            server.Terminate();
            Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.DoesNotContain("set-password?token=", server.Output, StringComparison.Ordinal);
        }

        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder.FullName, "data", "tessera.db")}");
        await connection.OpenAsync();
        Assert.Equal(1L, await Scalar(connection, "SELECT COUNT(*) FROM users WHERE NormalizedUsername = 'ADMIN'"));
        Assert.Equal(1L, await Scalar(connection, "SELECT COUNT(*) FROM users WHERE NormalizedUsername = 'MODULAR.SYSTEM'"));
        Assert.Equal(1L, await Scalar(connection, "SELECT COUNT(*) FROM credential_tokens"));
    }

    [Fact]
    public async Task Started_from_another_folder_the_service_applies_its_own_appsettings_json_and_keeps_data_in_the_working_directory()
    {
        // The shipped appsettings.json holds ASP.NET Core, EF Core and OpenIddict at Warning. Read from a content
        // root in the working directory (this empty folder), it would be missed: then every request and every SQL
        // statement would be logged at Information.
        Assert.False(File.Exists(Path.Combine(_folder.FullName, "appsettings.json")));
        var port = FreePort();
        await using var server = ServerProcess.Start(_folder.FullName, Environment(port));
        await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
        using var token = await http.PostAsync($"http://127.0.0.1:{port}/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "nobody", ["client_secret"] = "not-a-secret-1234",
        }));
        Assert.False(token.IsSuccessStatusCode);
        server.Terminate();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("Application started", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Executed DbCommand", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Request starting", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("OpenIddict.Server", server.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_folder.FullName, "data", "tessera.db")), "data/tessera.db lies under the working directory");
    }

    [Fact]
    public async Task Dotnet_run_keeps_the_working_directory_so_data_lies_where_it_is_started_from()
    {
        // The README's first command, from another folder; --no-build runs what the tests were built against.
        var port = FreePort();
        var project = Path.Combine(ServerProcess.RepositoryRoot, "src", "Tessera.Server");
        var environment = Environment(port);
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        await using var server = ServerProcess.StartDotnet(_folder.FullName, environment,
            ["run", "--project", project, "--no-build", "--no-launch-profile", "-c", ServerProcess.Configuration]);
        await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
        Assert.True(File.Exists(Path.Combine(_folder.FullName, "data", "tessera.db")), "data/tessera.db lies under the folder dotnet run was called from\n" + server.Output);
    }

    [Fact]
    public async Task Migrate_applies_the_schema_and_exits_without_bootstrapping()
    {
        await using var server = ServerProcess.Start(_folder.FullName, Environment(FreePort()), "migrate");
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        Assert.Contains("schema is up to date", server.Output, StringComparison.Ordinal);

        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder.FullName, "data", "tessera.db")}");
        await connection.OpenAsync();
        Assert.Equal(0L, await Scalar(connection, "SELECT COUNT(*) FROM users"));
        Assert.True(await Scalar(connection, "SELECT COUNT(*) FROM __EFMigrationsHistory") >= 1);
    }

    [Fact]
    public async Task A_wrong_provider_setting_stops_the_service_with_a_message_naming_it()
    {
        var environment = Environment(FreePort());
        environment["Tessera__Database__Provider"] = "oracle";
        await using var server = ServerProcess.Start(_folder.FullName, environment);
        Assert.NotEqual(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        Assert.Contains("Tessera:Database:Provider", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_start_retry_setting_stops_the_service_with_a_message_naming_it()
    {
        var environment = Environment(FreePort());
        environment["Tessera__Database__StartRetrySeconds"] = "-1";
        await using var server = ServerProcess.Start(_folder.FullName, environment);
        Assert.NotEqual(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(120)));
        Assert.Contains("Tessera:Database:StartRetrySeconds must be", server.Output, StringComparison.Ordinal);
    }

    private static async Task<long> Scalar(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
