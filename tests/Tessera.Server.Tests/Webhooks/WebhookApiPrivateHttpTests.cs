using System.Net;
using System.Net.Http.Json;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Webhooks;

/// <summary>A host with Tessera:Webhooks:AllowPrivateHttp set, as for a receiver inside the same network.</summary>
public sealed class SqlitePrivateHttpHost() : HostFixture("sqlite")
{
    protected override IReadOnlyDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Tessera:Webhooks:AllowPrivateHttp"] = "true" };
}

public sealed class PostgresPrivateHttpHost() : HostFixture("postgres")
{
    protected override IReadOnlyDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["Tessera:Webhooks:AllowPrivateHttp"] = "true" };
}

public sealed class SqliteWebhookApiPrivateHttpTests(SqlitePrivateHttpHost host) : WebhookApiPrivateHttpTests<SqlitePrivateHttpHost>(host);

public sealed class PostgresWebhookApiPrivateHttpTests(PostgresPrivateHttpHost host) : WebhookApiPrivateHttpTests<PostgresPrivateHttpHost>(host);

/// <summary>
/// With AllowPrivateHttp, plain http reaches loopback and private addresses, and still nothing else: not a public
/// address, and never a link-local one (where cloud metadata answers), on any scheme.
/// </summary>
public abstract class WebhookApiPrivateHttpTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    [Theory]
    [InlineData("http://127.0.0.1:9000/hooks")]
    [InlineData("http://localhost:9000/hooks")]
    [InlineData("http://10.1.2.3/hooks")]
    [InlineData("http://172.16.0.9/hooks")]
    [InlineData("http://192.168.10.20:8080/hooks")]
    [InlineData("http://[::1]:9000/hooks")]
    [InlineData("http://[fd00::5]/hooks")]
    [InlineData("https://hooks.example.com/still-https")]
    public async Task Plain_http_is_allowed_to_loopback_and_private_addresses(string url)
    {
        using var admin = await Seed.AdminApiAsync(host.App);
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/webhooks", new { url, eventTypes = new[] { "*" } }), HttpStatusCode.Created);
        Assert.Equal(url, created.GetProperty("url").GetString());
    }

    [Theory]
    [InlineData("http://8.8.8.8/hooks")]
    [InlineData("http://172.32.0.1/hooks")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("http://[fe80::1]/hooks")]
    [InlineData("http://[::ffff:169.254.169.254]/hooks")]
    [InlineData("http://2852039166/hooks")]
    [InlineData("http://no-such-host.invalid/hooks")]
    public async Task Public_and_link_local_addresses_are_refused_even_so(string url)
    {
        using var admin = await Seed.AdminApiAsync(host.App);
        var problem = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/webhooks", new { url, eventTypes = new[] { "*" } }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _), problem.ToString());
    }
}
