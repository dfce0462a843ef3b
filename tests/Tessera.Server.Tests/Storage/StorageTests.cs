using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Bootstrap;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Storage;

public sealed class SqliteStorageTests(SqliteHost host) : StorageTests<SqliteHost>(host);

public sealed class PostgresStorageTests(PostgresHost host) : StorageTests<PostgresHost>(host);

/// <summary>Storage, bootstrap and HTTP basics, run once per provider.</summary>
public abstract class StorageTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task The_configured_provider_is_the_one_in_use()
    {
        await using var scope = App.Scope(out var db);
        Assert.Equal(host.Provider, db.Provider.ToString().ToLowerInvariant());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [Fact]
    public async Task Bootstrap_creates_the_catalog_the_builtin_roles_the_reserved_user_and_the_administrators()
    {
        await using var scope = App.Scope(out var db);
        var privileges = await db.Privileges.Select(p => p.Name).ToListAsync();
        foreach (var name in new[] { "MANAGE_USERS", "VIEW_USERS", "MANAGE_ROLES", "VIEW_ROLES", "MANAGE_GROUPS", "MANAGE_PASSWORD_POLICY", "VIEW_AUDIT_LOG", "MANAGE_CUSTOMERS", "AGENT_ASSIST" })
        {
            Assert.Contains(name, privileges);
        }

        var administrator = await db.Roles.Include(r => r.Privileges).SingleAsync(r => r.Name == BuiltInRoles.Administrator);
        Assert.True(administrator.IsBuiltIn);
        Assert.Equal(privileges.Order(), administrator.Privileges.Select(p => p.Privilege).Order());
        Assert.True((await db.Roles.SingleAsync(r => r.Name == BuiltInRoles.System)).IsBuiltIn);

        var reserved = await db.Users.Include(u => u.Roles).ThenInclude(r => r.Role).SingleAsync(u => u.Username == Usernames.Reserved);
        Assert.Equal(UserType.Api, reserved.Type);
        Assert.Equal([BuiltInRoles.System], reserved.Roles.Select(r => r.Role!.Name));
        Assert.Null(reserved.PasswordHash);

        var admin = await db.Users.Include(u => u.Roles).ThenInclude(r => r.Role).SingleAsync(u => u.Username == TesseraApp.AdminUsername);
        Assert.Equal(UserType.BackOffice, admin.Type);
        Assert.Equal(UserStatus.Active, admin.Status);
        Assert.Equal([BuiltInRoles.Administrator], admin.Roles.Select(r => r.Role!.Name));
        var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher<User>>();
        Assert.Equal(PasswordVerificationResult.Success, hasher.VerifyHashedPassword(admin, admin.PasswordHash!, TesseraApp.AdminPassword));

        var client = await db.Users.Include(u => u.Roles).ThenInclude(r => r.Role).SingleAsync(u => u.Username == TesseraApp.ApiClientId);
        Assert.Equal(UserType.Api, client.Type);
        Assert.Equal([BuiltInRoles.Administrator, BuiltInRoles.System], client.Roles.Select(r => r.Role!.Name).Order());
    }

    [Fact]
    public async Task Bootstrap_run_again_changes_nothing()
    {
        await using var scope = App.Scope(out var db);
        var before = (await db.Users.CountAsync(), await db.Roles.CountAsync(), await db.Privileges.CountAsync(), await db.UserRoles.CountAsync(), await db.RolePrivileges.CountAsync(), await db.CredentialTokens.CountAsync());
        var adminHash = await db.Users.Where(u => u.Username == TesseraApp.AdminUsername).Select(u => u.PasswordHash).SingleAsync();

        await using (var again = App.Services.CreateAsyncScope())
        {
            await again.ServiceProvider.GetRequiredService<Bootstrapper>().RunAsync(CancellationToken.None);
        }

        db.ChangeTracker.Clear();
        var after = (await db.Users.CountAsync(), await db.Roles.CountAsync(), await db.Privileges.CountAsync(), await db.UserRoles.CountAsync(), await db.RolePrivileges.CountAsync(), await db.CredentialTokens.CountAsync());
        Assert.Equal(before, after);
        Assert.Equal(adminHash, await db.Users.Where(u => u.Username == TesseraApp.AdminUsername).Select(u => u.PasswordHash).SingleAsync());
    }

    [Fact]
    public async Task A_changed_bootstrap_password_never_overwrites_a_password_a_person_set()
    {
        string personal;
        await using (var scope = App.Scope(out var db))
        {
            // An API client's chosen secret is its credential named "initial".
            var client = await db.Users.SingleAsync(u => u.Username == TesseraApp.ApiClientId);
            var initial = await db.ApiCredentials.SingleAsync(c => c.UserId == client.Id && c.Name == "initial");
            var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher<User>>();
            initial.SecretHash = personal = hasher.HashPassword(client, "A-password-a-person-chose-1");
            await db.SaveChangesAsync();
        }

        await using var restarted = new TesseraApp(App.Database, new Dictionary<string, string?> { ["Tessera:Bootstrap:ApiClientSecret"] = "A-new-configured-secret-99" });
        _ = restarted.Server;
        await using (var scope = restarted.Scope(out var db))
        {
            var client = await db.Users.SingleAsync(u => u.Username == TesseraApp.ApiClientId);
            Assert.Null(client.PasswordHash);
            Assert.Equal(personal, await db.ApiCredentials.Where(c => c.UserId == client.Id && c.Name == "initial").Select(c => c.SecretHash).SingleAsync());
        }
    }

    [Fact]
    public async Task Two_racing_inserts_of_the_same_normalized_username_let_exactly_one_through()
    {
        for (var round = 0; round < 5; round++)
        {
            var name = "race." + Guid.NewGuid().ToString("N")[..8];
            using var gate = new Barrier(2);
            var attempts = new[] { name, name.ToUpperInvariant() }.Select(variant => Task.Run(async () =>
            {
                await using var scope = App.Scope(out var db);
                var user = NewUser(variant, $"{Guid.NewGuid():N}@race.test");
                db.Users.Add(user);
                gate.SignalAndWait(TimeSpan.FromSeconds(10));
                try
                {
                    await db.SaveChangesAsync();
                    return true;
                }
                catch (DbUpdateException e) when (e.IsUniqueViolation(out _))
                {
                    return false;
                }
            })).ToArray();

            var results = await Task.WhenAll(attempts);
            Assert.Equal(1, results.Count(saved => saved));
            await using var check = App.Scope(out var verify);
            Assert.Equal(1, await verify.Users.CountAsync(u => u.NormalizedUsername == Usernames.Normalize(name)));
        }
    }

    [Fact]
    public async Task Emails_are_unique_ignoring_case()
    {
        var email = $"{Guid.NewGuid():N}@unique.test";
        await using (var scope = App.Scope(out var db))
        {
            db.Users.Add(NewUser("first." + Guid.NewGuid().ToString("N")[..8], email));
            await db.SaveChangesAsync();
        }

        await using (var scope = App.Scope(out var db))
        {
            db.Users.Add(NewUser("second." + Guid.NewGuid().ToString("N")[..8], email.ToUpperInvariant()));
            var error = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
            Assert.True(error.IsUniqueViolation(out _), error.InnerException?.Message);
        }
    }

    [Fact]
    public async Task Health_answers_200_while_the_database_answers()
    {
        using var client = App.CreateClient();
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("healthy", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_OpenAPI_document_and_its_reference_page_are_served()
    {
        using var client = App.CreateClient();
        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var page = await client.GetAsync("/docs/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("openapi/v1.json", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/docs/scalar.js")).StatusCode);
    }

    [Theory]
    [InlineData("GET", "/api/v1/no-such-thing")]
    [InlineData("POST", "/api/nothing/here")]
    public async Task Unknown_API_paths_answer_a_problem_with_a_code(string method, string path)
    {
        using var client = App.CreateClient();
        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        Assert.Contains(path, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private static User NewUser(string username, string email)
    {
        var user = new User { Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "", Type = UserType.BackOffice, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow };
        user.SetUsername(username);
        user.SetEmail(email);
        return user;
    }
}
