using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Tessera.Core.Users;
using Tessera.Server.Observability;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Observability;

/// <summary>A host serving /metrics on its public port, over real loopback HTTP, behind a trusted proxy address (127.0.0.1).</summary>
public abstract class MetricsHost(string provider) : IAsyncLifetime
{
    public TesseraApp App { get; private set; } = null!;

    public Task InitializeAsync()
    {
        App = new TesseraApp(TestDatabase.Create(provider), new Dictionary<string, string?>
        {
            [MetricsSettings.EnabledKey] = "true",
            [Tessera.Server.Http.TrustedProxies.Setting] = "127.0.0.1",
        }, kestrel: true).Started();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
    }
}

public sealed class SqliteMetricsHost() : MetricsHost("sqlite");

public sealed class PostgresMetricsHost() : MetricsHost("postgres");

public sealed class SqliteMetricsEndpointTests(SqliteMetricsHost host) : MetricsEndpointTests<SqliteMetricsHost>(host);

public sealed class PostgresMetricsEndpointTests(PostgresMetricsHost host) : MetricsEndpointTests<PostgresMetricsHost>(host);

/// <summary>
/// The product's metrics as a scraper reads them: each event counted once under its closed labels, the outbox gauge
/// following the database, and nothing that names a person, a client or an address.
/// </summary>
public abstract class MetricsEndpointTests<THost>(THost host) : IClassFixture<THost> where THost : MetricsHost
{
    private const string Password = "Metrics-Password-12345";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private TesseraApp App => host.App;

    [Fact]
    public async Task Sign_in_failures_tokens_and_authorize_decisions_are_counted_under_their_labels()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var http = App.Client();
        var before = await ScrapeAsync(http);

        using (var browser = App.Client(cookies: true))
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(browser, user.Username, "Wrong-Password-12345")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await Seed.SignInAsync(browser, user.Username, "Wrong-Password-67890")).StatusCode);
        }

        using var admin = await Seed.AdminApiAsync(App);
        var refused = await Seed.RequestTokenAsync(http, TesseraApp.ApiClientId, "Not-The-Secret-12345");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var allowed = await admin.PostAsJsonAsync("/api/v1/authorize", new { userId = user.Id, privilege = "VIEW_NOTHING_AT_ALL" });
        Assert.True(allowed.IsSuccessStatusCode, $"{(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
        var admins = await admin.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/me");
        var adminId = admins.GetProperty("id").GetGuid();
        var allow = await admin.PostAsJsonAsync("/api/v1/authorize", new { userId = adminId, privilege = "AUTHORIZE" });
        Assert.True(allow.IsSuccessStatusCode, $"{(int)allow.StatusCode} {await allow.Content.ReadAsStringAsync()}");
        Assert.True((await allow.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("allowed").GetBoolean());
        var batch = await admin.PostAsJsonAsync("/api/v1/authorize/batch", new
        {
            checks = new object[]
            {
                new { userId = adminId, privilege = "AUTHORIZE" },
                new { userId = user.Id, privilege = "VIEW_NOTHING_AT_ALL" },
                new { userId = user.Id, privilege = "VIEW_NOTHING_AT_ALL" },
            },
        });
        Assert.True(batch.IsSuccessStatusCode, $"{(int)batch.StatusCode} {await batch.Content.ReadAsStringAsync()}");

        var after = await ScrapeUntilAsync(http, text =>
            text.Sum("tessera_signins_total", ("method", "password"), ("outcome", "failure")) - before.Sum("tessera_signins_total", ("method", "password"), ("outcome", "failure")) >= 2
            && text.Sum("tessera_authorize_decisions_total") - before.Sum("tessera_authorize_decisions_total") >= 5);

        Assert.Equal(2, Delta("tessera_signins_total", ("method", "password"), ("outcome", "failure")));
        Assert.Equal(0, Delta("tessera_signins_total", ("outcome", "success")));
        Assert.Equal(1, Delta("tessera_tokens_issued_total", ("grant_type", "client_credentials")));
        Assert.Equal(1, Delta("tessera_tokens_failures_total", ("error", "invalid_client")));
        // Each check of a batch is a decision; the batch's time is its own histogram's, not one decision's.
        Assert.Equal(2, Delta("tessera_authorize_decisions_total", ("outcome", "allow")));
        Assert.Equal(3, Delta("tessera_authorize_decisions_total", ("outcome", "deny")));
        Assert.Equal(2, Delta("tessera_authorize_duration_seconds_count"));
        Assert.Equal(1, Delta("tessera_authorize_batch_duration_seconds_count"));
        Assert.Contains("# TYPE tessera_authorize_duration_seconds histogram", after.Text, StringComparison.Ordinal);
        Assert.Contains("# TYPE tessera_authorize_batch_duration_seconds histogram", after.Text, StringComparison.Ordinal);

        double Delta(string name, params (string Label, string Value)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
    }

    [Fact]
    public async Task A_lockout_and_a_successful_sign_in_are_counted()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var http = App.Client();
        var before = await ScrapeAsync(http);
        using (var browser = App.Client(cookies: true))
        {
            var signedIn = await Seed.SignInAsync(browser, user.Username, Password);
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        }

        // The product's threshold is a handful of failures; the account locks on one of these, and later attempts meet the lock.
        using (var browser = App.Client(cookies: true))
        {
            for (var i = 0; i < 12; i++)
            {
                await Seed.SignInAsync(browser, user.Username, "Wrong-Password-12345");
            }
        }

        var after = await ScrapeUntilAsync(http, text => text.Sum("tessera_lockouts_total") - before.Sum("tessera_lockouts_total") >= 1
            && text.Sum("tessera_signins_total", ("outcome", "success")) - before.Sum("tessera_signins_total", ("outcome", "success")) >= 1);
        Assert.Equal(1, after.Sum("tessera_lockouts_total") - before.Sum("tessera_lockouts_total"));
        Assert.Equal(1, after.Sum("tessera_signins_total", ("method", "password"), ("outcome", "success")) - before.Sum("tessera_signins_total", ("method", "password"), ("outcome", "success")));
        Assert.True(after.Sum("tessera_signins_total", ("method", "password"), ("outcome", "locked")) - before.Sum("tessera_signins_total", ("method", "password"), ("outcome", "locked")) >= 1,
            "attempts on the locked account are counted as locked");
    }

    [Fact]
    public async Task The_outbox_gauges_show_a_queued_mail_and_its_age()
    {
        var now = App.Clock.GetUtcNow().UtcDateTime;
        await using (var scope = App.Scope(out var db))
        {
            // A mail waiting for its retry in an hour, queued ten minutes ago.
            db.OutboxMessages.Add(new OutboxMessage
            {
                To = "waiting@metrics.test", Subject = "Waiting", TextBody = "not read by this test",
                CreatedAt = now.AddMinutes(-10), NextAttemptAt = now.AddHours(1), Attempts = 1,
            });
            await db.SaveChangesAsync();
        }

        // Figures are read at most once per OutboxGauges.MaxAge: move past it rather than wait.
        App.Clock.Advance(OutboxGauges.MaxAge + TimeSpan.FromSeconds(1));
        using var http = App.Client();
        var text = await ScrapeUntilAsync(http, t => t.Sum("tessera_outbox_depth", ("queue", "mail")) >= 1);
        Assert.True(text.Sum("tessera_outbox_depth", ("queue", "mail")) >= 1, text.Text);
        Assert.True(text.Sum("tessera_outbox_oldest_age_seconds", ("queue", "mail")) >= 600, text.Text);
        Assert.Equal(0, text.Sum("tessera_outbox_depth", ("queue", "webhooks")));
    }

    [Fact]
    public async Task The_scrape_names_no_user_user_id_client_id_or_client_address()
    {
        var distinctive = "zqxprivacy" + Guid.NewGuid().ToString("N")[..8];
        var user = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await Seed.UpdateUserAsync(App, user.Id, u => u.SetUsername(distinctive));
        var api = await Seed.UserAsync(App, UserType.Api, "Api-Privacy-Secret-1234", "Administrator");
        const string address = "203.0.113.77";

        using (var browser = App.Client(cookies: true))
        {
            browser.DefaultRequestHeaders.Add("X-Forwarded-For", address);
            await Seed.SignInAsync(browser, distinctive, "Wrong-Password-12345");
            Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, distinctive, Password)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);
        }

        using var http = App.Client();
        http.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        var token = await Seed.TokenAsync(http, api.Username, "Api-Privacy-Secret-1234");
        await Seed.RequestTokenAsync(http, api.Username, "Wrong-Privacy-Secret-1234");
        using var client = Seed.WithBearer(App, token);
        client.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        var decided = await client.PostAsJsonAsync("/api/v1/authorize", new { userId = user.Id, privilege = "AUTHORIZE" });
        Assert.True(decided.IsSuccessStatusCode, $"{(int)decided.StatusCode} {await decided.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/users/{user.Id}")).StatusCode);

        await using (var scope = App.Scope(out var db))
        {
            Assert.True(db.AuditEvents.Any(e => e.ClientIp == address), "the forwarded address reached the product (audited), so its absence below means something");
        }

        using var scraper = App.Client();
        var text = (await ScrapeUntilAsync(scraper, t => t.Sum("tessera_authorize_decisions_total") >= 1)).Text;
        Assert.Contains("tessera_signins_total", text, StringComparison.Ordinal);
        foreach (var secret in new[] { distinctive, user.Id.ToString(), user.Id.ToString("N"), api.Username, api.Id.ToString(), address })
        {
            Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
        }

        // Tessera's pool is named, not labelled with its connection string (which Npgsql would use). Npgsql's meter is
        // process-wide, so the test harness's own admin connections appear here too: only Tessera's name is asserted.
        if (App.Database.Provider == "postgres")
        {
            Assert.Contains("db_client_connection_pool_name=\"tessera\"", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_scrape_needs_no_authentication_and_is_never_rate_limited()
    {
        using var http = App.Client();
        for (var i = 0; i < 40; i++)
        {
            using var response = await http.GetAsync(MetricsSetup.Path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        }
    }

    private static async Task<MetricsText> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync(MetricsSetup.Path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {body}");
        return new MetricsText(body);
    }

    /// <summary>Scrapes until <paramref name="done"/> holds (the exporter caches a scrape briefly), with a hard deadline.</summary>
    private static async Task<MetricsText> ScrapeUntilAsync(HttpClient http, Func<MetricsText, bool> done)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            var text = await ScrapeAsync(http);
            if (done(text) || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>A scrape in the Prometheus text format, read as a scraper reads it.</summary>
public sealed class MetricsText(string text)
{
    public string Text => text;

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    public double Sum(string name, params (string Label, string Value)[] labels)
    {
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !(line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal)))
            {
                continue;
            }

            var close = line.LastIndexOf('}');
            var labelText = close < 0 ? "" : line[..(close + 1)];
            if (!labels.All(l => labelText.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                continue;
            }

            var parts = line[(close + 1)..].Trim().Split(' ');
            sum += double.Parse(parts[0], CultureInfo.InvariantCulture);
        }

        return sum;
    }
}
