using System.Net;
using System.Net.Http.Json;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

/// <summary>The last active user holding MANAGE_USERS cannot be deleted, disabled, or lose it.</summary>
public sealed class LastAdministratorTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_last_user_managing_users_cannot_be_deleted_disabled_or_lose_the_privilege(string provider)
    {
        var database = TestDatabase.Create(provider);
        await using var db = database;
        await using var app = new TesseraApp(database, new Dictionary<string, string?> { ["Tessera:Bootstrap:ApiClientId"] = "" }).Started();
        var automation = await Seed.UserAsync(app, UserType.Api, "Automation-Secret-123", "System", "Administrator");
        using var client = app.Client();
        using var api = Seed.WithBearer(app, await Seed.TokenAsync(client, automation.Username, "Automation-Secret-123"));

        var admin = (await api.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/users?username=admin")).GetProperty("items")[0].GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api/v1/users/{admin}")).StatusCode);

        // Now the automation user is the only one left who manages users.
        foreach (var attempt in new Func<Task<HttpResponseMessage>>[]
        {
            () => api.DeleteAsync($"/api/v1/users/{automation.Id}"),
            () => api.PatchAsJsonAsync($"/api/v1/users/{automation.Id}", new { status = "disabled" }),
            () => api.PutAsJsonAsync($"/api/v1/users/{automation.Id}/roles", new { roles = new[] { "System" } }),
        })
        {
            var response = await attempt();
            var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            Assert.True(response.StatusCode == HttpStatusCode.Conflict, body.ToString());
            Assert.Equal("last_admin", body.GetProperty("code").GetString());
        }

        var me = await api.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/v1/me");
        Assert.Contains("MANAGE_USERS", me.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()));
    }
}
