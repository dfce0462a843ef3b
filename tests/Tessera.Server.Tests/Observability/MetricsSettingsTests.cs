using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Server.Observability;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Observability;

/// <summary>What Tessera:Metrics switches on and off, and the settings it refuses at the start.</summary>
public sealed class MetricsSettingsTests
{
    [Fact]
    public async Task Without_the_setting_metrics_is_an_unknown_path_and_nothing_listens_to_the_product_meter()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database).Started();
        using var http = app.Client();
        var response = await http.GetAsync(MetricsSetup.Path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(app.Services.GetRequiredService<TesseraMetrics>().SignIns.Enabled, "no listener, so recording costs nothing");
    }

    [Theory]
    [InlineData(MetricsSettings.PortKey, "70000")]
    [InlineData(MetricsSettings.PortKey, "0")]
    [InlineData(MetricsSettings.PortKey, "metrics")]
    [InlineData(MetricsSettings.OtlpEndpointKey, "collector:4317")]
    [InlineData(MetricsSettings.OtlpEndpointKey, "ftp://collector/")]
    [InlineData(MetricsSettings.EnabledKey, "yes please")]
    public async Task A_wrong_setting_stops_the_start_with_a_message_naming_it(string key, string value)
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { [MetricsSettings.EnabledKey] = "true", [key] = value });
        var e = Record.Exception(() => app.Started());
        Assert.NotNull(e);
        Assert.Contains(key, e.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>
/// Tessera:Metrics:Port as an operator runs it: the built service in its own process, its public address from
/// ASPNETCORE_URLS. /metrics answers on the metrics port only; the public port keeps serving everything else.
/// </summary>
public sealed class MetricsPortTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("tessera-metrics-port-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    [Fact]
    public async Task Metrics_answer_on_their_own_port_only_and_the_public_urls_still_serve()
    {
        var ports = TesseraApp.FreePorts(2);
        var (publicPort, metricsPort) = (ports[0], ports[1]);
        await using var server = ServerProcess.Start(_folder.FullName, new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{publicPort}",
            ["Tessera__PublicUrl"] = $"http://127.0.0.1:{publicPort}",
            ["Tessera__Metrics__Enabled"] = "true",
            ["Tessera__Metrics__Port"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await server.WaitUntilStartedAsync(TimeSpan.FromSeconds(120));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        var health = await http.GetAsync($"http://127.0.0.1:{publicPort}/healthz");
        Assert.True(health.StatusCode == HttpStatusCode.OK, $"public /healthz: {(int)health.StatusCode}\n{server.Output}");
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{publicPort}/metrics")).StatusCode);

        // A token on the public port, counted on the metrics port.
        var token = await http.PostAsync($"http://127.0.0.1:{publicPort}/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = "nobody", ["client_secret"] = "not-a-secret-1234",
        }));
        Assert.False(token.IsSuccessStatusCode);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        MetricsText scrape;
        do
        {
            var metrics = await http.GetAsync($"http://127.0.0.1:{metricsPort}/metrics");
            Assert.True(metrics.StatusCode == HttpStatusCode.OK, $"metrics port /metrics: {(int)metrics.StatusCode}\n{server.Output}");
            scrape = new MetricsText(await metrics.Content.ReadAsStringAsync());
        }
        while (scrape.Sum("tessera_tokens_failures_total", ("error", "invalid_client")) < 1 && DateTime.UtcNow < deadline && await Delay());

        Assert.Equal(1, scrape.Sum("tessera_tokens_failures_total", ("error", "invalid_client")));
        Assert.Contains("http_server_request_duration_seconds", scrape.Text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{metricsPort}/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{metricsPort}/signin")).StatusCode);

        server.Terminate();
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(200);
        return true;
    }
}
