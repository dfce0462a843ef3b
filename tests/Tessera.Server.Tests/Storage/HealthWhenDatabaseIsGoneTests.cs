using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Storage;

public sealed class HealthWhenDatabaseIsGoneTests
{
    [Fact]
    public async Task Health_answers_503_when_the_database_does_not_answer()
    {
        var database = (PostgresTestDatabase)TestDatabase.Create("postgres");
        await using var app = new TesseraApp(database);
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

        await database.DropAsync();

        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("database_unavailable", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());

        // Liveness does not ask the database: the process still serves.
        var live = await client.GetAsync("/healthz/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Requests_that_need_a_database_that_is_gone_are_answered_503_with_Retry_After_in_the_form_their_client_reads()
    {
        var database = (PostgresTestDatabase)TestDatabase.Create("postgres");
        await using var app = new TesseraApp(database);
        using var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var token = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);

        await database.DropAsync();

        // The API: problem details with the code database_unavailable.
        using var api = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users") { Headers = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token) } };
        using var apiResponse = await client.SendAsync(api);
        var apiBody = await apiResponse.Content.ReadAsStringAsync();
        Assert.True(apiResponse.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)apiResponse.StatusCode} {apiBody}");
        Assert.Equal("application/problem+json", apiResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal("database_unavailable", JsonDocument.Parse(apiBody).RootElement.GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(5), apiResponse.Headers.RetryAfter?.Delta);

        // The token and introspection endpoints: an OAuth error (RFC 6749 §5.2) that clients of those endpoints read.
        using var tokenResponse = await Seed.RequestTokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        await AssertOAuthUnavailableAsync(tokenResponse);
        using var introspection = await client.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = TesseraApp.ApiClientId, ["client_secret"] = TesseraApp.ApiClientSecret, ["token"] = token,
        }));
        await AssertOAuthUnavailableAsync(introspection);

        // A Back Office page in a browser: a plain page.
        using var page = new HttpRequestMessage(HttpMethod.Get, "/set-password?token=abc") { Headers = { { "Accept", "text/html,application/xhtml+xml,*/*;q=0.8" } } };
        using var pageResponse = await client.SendAsync(page);
        var html = await pageResponse.Content.ReadAsStringAsync();
        Assert.True(pageResponse.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)pageResponse.StatusCode} {html}");
        Assert.Equal("text/html", pageResponse.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Tessera is unavailable", html, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(5), pageResponse.Headers.RetryAfter?.Delta);
    }

    private static async Task AssertOAuthUnavailableAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("temporarily_unavailable", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        Assert.True(response.Headers.CacheControl?.NoStore, "no-store");
    }
}
