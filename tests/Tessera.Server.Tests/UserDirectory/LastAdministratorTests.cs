using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

/// <summary>
/// The last active user holding MANAGE_USERS cannot be deleted, disabled, or lose it. Acting on itself,
/// that user is stopped first by the self-lockout rule; anyone else (a role designer editing the role
/// it holds, say) is stopped by the last-administrator invariant.
/// </summary>
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

        // A custom role that manages users, and a role designer who may edit it but holds no MANAGE_USERS.
        await Expect(HttpStatusCode.Created, await api.PostAsJsonAsync("/api/v1/roles", new { name = "Keepers", privileges = new[] { "MANAGE_USERS", "VIEW_USERS" } }));
        var keepers = (await Expect(HttpStatusCode.OK, await api.GetAsync("/api/v1/roles"))).GetProperty("items").EnumerateArray()
            .Single(r => r.GetProperty("name").GetString() == "Keepers").GetProperty("id").GetString();
        await Expect(HttpStatusCode.Created, await api.PostAsJsonAsync("/api/v1/roles", new { name = "Designers", privileges = new[] { "MANAGE_ROLES", "VIEW_ROLES" } }));
        await Expect(HttpStatusCode.Created, await api.PostAsJsonAsync("/api/v1/users", new
        {
            username = "designer", email = "designer@tessera.test", type = "api", roles = new[] { "Designers" }, password = "Rosewood-Lantern-4821",
        }));
        using var designer = Seed.WithBearer(app, await Seed.TokenAsync(client, "designer", "Rosewood-Lantern-4821"));

        var admin = (await api.GetFromJsonAsync<JsonElement>("/api/v1/users?username=admin")).GetProperty("items")[0].GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/api/v1/users/{admin}")).StatusCode);

        // The automation user now manages users through Keepers alone, and is the only one left who does.
        await Expect(HttpStatusCode.OK, await api.PutAsJsonAsync($"/api/v1/users/{automation.Id}/roles", new { roles = new[] { "System", "Keepers" } }));

        foreach (var attempt in new Func<Task<HttpResponseMessage>>[]
        {
            () => api.DeleteAsync($"/api/v1/users/{automation.Id}"),
            () => api.PatchAsJsonAsync($"/api/v1/users/{automation.Id}", new { status = "disabled" }),
            () => api.PutAsJsonAsync($"/api/v1/users/{automation.Id}/roles", new { roles = new[] { "System" } }),
        })
        {
            Assert.Equal("self_lockout", (await Expect(HttpStatusCode.Conflict, await attempt())).GetProperty("code").GetString());
        }

        // Not the designer's own access, but it would leave no one who manages users.
        var lastAdmin = await Expect(HttpStatusCode.Conflict,
            await designer.PutAsJsonAsync($"/api/v1/roles/{keepers}", new { name = "Keepers", privileges = new[] { "VIEW_USERS" } }));
        Assert.Equal("last_admin", lastAdmin.GetProperty("code").GetString());

        var me = await api.GetFromJsonAsync<JsonElement>("/api/v1/me");
        Assert.Contains("MANAGE_USERS", me.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()));

        // The self-lockouts were refusals of the delegation rules, each audited once; the invariant's refusal is not.
        await using var scope = app.Scope(out var store);
        Assert.Equal(3, await store.AuditEvents.CountAsync(e => e.Action == "access.denied" && e.ActorId == automation.Id));
        Assert.Equal(3, await store.AuditEvents.CountAsync(e => e.Action == "access.denied"));
    }

    private static async Task<JsonElement> Expect(HttpStatusCode status, HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement;
    }
}
