using Tessera.Server.Observability;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Observability;

/// <summary>
/// Debian's Prometheus scrapes a live Tessera every second, and a product metric comes back through Prometheus's own
/// query API: the names, types and text format are what a real Prometheus accepts, not only what a parser in this
/// repository reads.
/// </summary>
public sealed class PrometheusScrapeTests : IAsyncLifetime
{
    private TesseraApp _app = null!;

    public Task InitializeAsync()
    {
        _app = new TesseraApp(TestDatabase.Create("sqlite"), new Dictionary<string, string?> { [MetricsSettings.EnabledKey] = "true" }, kestrel: true).Started();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _app.Database.DisposeAsync();
    }

    [Fact]
    public async Task Prometheus_scrapes_the_instance_and_reads_the_tokens_issued_back()
    {
        await using var prometheus = await PrometheusProcess.StartAsync($"127.0.0.1:{_app.Port}");

        // The test host's start took a token already (it relaxes the MFA policy through the API): count from what Prometheus has.
        using var http = _app.Client();
        var baseline = await prometheus.WaitForValueAsync("tessera_tokens_issued_total", _ => true, TimeSpan.FromSeconds(30));
        Assert.True(baseline is not null, $"Prometheus never scraped a token count; targets: {await prometheus.TargetsAsync()}\n{prometheus.Output}");
        await Seed.TokenAsync(http, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        await Seed.TokenAsync(http, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);

        var value = await prometheus.WaitForValueAsync("tessera_tokens_issued_total", v => v >= baseline + 2, TimeSpan.FromSeconds(30));
        Assert.True(value == baseline + 2, $"Prometheus read tessera_tokens_issued_total = {value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"} after {baseline} and two tokens; targets: {await prometheus.TargetsAsync()}\n{prometheus.Output}");

        var byGrant = await prometheus.QueryAsync("tessera_tokens_issued_total{grant_type=\"client_credentials\"}");
        Assert.Equal(1, byGrant.GetArrayLength());
        Assert.Equal("tessera", byGrant[0].GetProperty("metric").GetProperty("job").GetString());
    }
}
