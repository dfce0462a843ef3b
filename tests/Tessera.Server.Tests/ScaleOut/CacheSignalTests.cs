using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ScaleOut;

/// <summary>
/// Two instances on one PostgreSQL database, each caching callers for five minutes: only the change notifications
/// can carry a change from one to the other within a second. And when the listening connection is cut, the
/// instance says so, clears its caches, and listens again.
/// </summary>
public sealed class CacheSignalTests : IAsyncLifetime, IDisposable
{
    private const string Secret = "Signal-Secret-12345678";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    private readonly PostgresTestDatabase _database = PostgresTestDatabase.Create();
    private readonly CapturedLogs _logs = new();
    private TesseraApp _first = null!;
    private TesseraApp _second = null!;

    public Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?> { ["Tessera:Tokens:CallerCacheSeconds"] = "300" };
        _first = new TesseraApp(_database, settings).Started();
        _second = new TesseraApp(_database, settings) { Logging = _logs.Everything }.Started();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _second.DisposeAsync();
        await _first.DisposeAsync();
        await _database.DisposeAsync();
    }

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task A_disable_on_one_instance_is_refused_on_the_other_within_a_second_though_it_caches_for_five_minutes()
    {
        var (user, api) = await ApiUserOnSecondAsync();
        using var admin = await Seed.AdminApiAsync(_first);
        var disabled = await admin.PatchAsJsonAsync($"/api/v1/users/{user.Id}", new { status = "disabled" });
        Assert.True(disabled.IsSuccessStatusCode, $"{(int)disabled.StatusCode} {await disabled.Content.ReadAsStringAsync()}");
        var took = await RefusedWithinAsync(api);
        Assert.True(took < Bound, $"The other instance still honoured the token after {took.TotalMilliseconds:0} ms.");
    }

    [Fact]
    public async Task A_lost_listening_connection_is_logged_and_the_instance_listens_again()
    {
        await TerminateListenersAsync();
        await WaitForLogAsync("Change notifications from the other instances were lost");
        await WaitForLogAsync("Change notifications from the other instances are received again");

        var (user, api) = await ApiUserOnSecondAsync();
        using var admin = await Seed.AdminApiAsync(_first);
        Assert.True((await admin.PatchAsJsonAsync($"/api/v1/users/{user.Id}", new { status = "disabled" })).IsSuccessStatusCode);
        var took = await RefusedWithinAsync(api);
        Assert.True(took < Bound, $"After reconnecting, the other instance still honoured the token after {took.TotalMilliseconds:0} ms.");
    }

    private async Task<(User User, HttpClient Api)> ApiUserOnSecondAsync()
    {
        var user = await Seed.UserAsync(_first, UserType.Api, Secret, "System");
        using var client = _second.Client();
        var api = Seed.WithBearer(_second, await Seed.TokenAsync(client, user.Username, Secret));
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/me")).StatusCode);
        return (user, api);
    }

    /// <summary>Polls until the token is refused; fails after ten seconds, far beyond the bound.</summary>
    private static async Task<TimeSpan> RefusedWithinAsync(HttpClient api)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            if ((await api.GetAsync("/api/v1/me")).StatusCode == HttpStatusCode.Unauthorized)
            {
                return watch.Elapsed;
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException("The token was never refused on the other instance.");
    }

    private async Task TerminateListenersAsync()
    {
        var database = new NpgsqlConnectionStringBuilder(_database.ConnectionString).Database;
        await using var connection = new NpgsqlConnection(PostgresTestDatabase.AdminConnectionString);
        await connection.OpenAsync();

        // Both instances' listeners first: each opens its connection once its own start has finished, which on a
        // busy machine may be after the test began; cutting only the first one's would prove nothing of the second.
        await using (var count = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tessera-notifications' AND datname = $1 AND state = 'idle'", connection))
        {
            count.Parameters.Add(new NpgsqlParameter { Value = database! });
            var watch = Stopwatch.StartNew();
            while ((long)(await count.ExecuteScalarAsync())! < 2)
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), "The two instances' listening connections never both appeared.");
                await Task.Delay(50);
            }
        }

        await using var kill = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'tessera-notifications' AND datname = $1", connection);
        kill.Parameters.Add(new NpgsqlParameter { Value = database! });
        Assert.True((long)(await kill.ExecuteScalarAsync())! >= 1, "No listening connection was found.");
    }

    private async Task WaitForLogAsync(string text)
    {
        var watch = Stopwatch.StartNew();
        while (!_logs.EntriesWith(text).Any())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"The log never said \"{text}\". It said:\n{_logs.Text}");
            await Task.Delay(50);
        }
    }
}
