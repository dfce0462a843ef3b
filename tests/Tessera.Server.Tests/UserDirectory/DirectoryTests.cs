using System.Net;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteDirectoryTests(SqliteHost host) : DirectoryTests<SqliteHost>(host);

public sealed class PostgresDirectoryTests(PostgresHost host) : DirectoryTests<PostgresHost>(host);

/// <summary>The user directory over the REST API with real tokens: invariants, permissions, audit.</summary>
public abstract class DirectoryTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    protected TesseraApp App => host.App;

    protected static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status, string? code = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        var json = body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        if (code is not null)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(code, json.GetProperty("code").GetString());
            Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("detail").GetString()));
        }

        return json;
    }

    protected static async Task<JsonElement> CreateUserAsync(HttpClient api, string type = "backoffice", string[]? roles = null, string[]? groups = null, string? username = null, string? password = null)
    {
        username ??= Seed.Unique(type == "api" ? "api" : "user");
        var response = await api.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", firstName = "Test", lastName = username, type, roles = roles ?? [], groups = groups ?? [], password });
        return await ExpectAsync(response, HttpStatusCode.Created);
    }

    protected async Task<int> AuditCountAsync()
    {
        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync();
    }

    [Fact]
    public async Task Every_API_endpoint_outside_the_anonymous_allow_list_requires_a_privilege()
    {
        var anonymous = new HashSet<string> { "POST /api/v1/password/forgot", "POST /api/v1/password/reset" };
        var endpoints = App.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true && e.DisplayName?.Contains("Fallback", StringComparison.Ordinal) != true)
            .ToList();
        Assert.NotEmpty(endpoints);
        var unguarded = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var methods = endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"];
            foreach (var method in methods)
            {
                var name = $"{method} {endpoint.RoutePattern.RawText}";
                var privilege = endpoint.Metadata.GetMetadata<Tessera.Server.Http.RequiresPrivilegeAttribute>();
                var caller = endpoint.Metadata.GetMetadata<Tessera.Server.Http.RequiresCallerAttribute>();
                var authorized = endpoint.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>().Any()
                    || endpoint.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.AuthorizationPolicy>().Any();
                if (!anonymous.Contains(name) && !((privilege is not null || caller is not null) && authorized))
                {
                    unguarded.Add(name);
                }
            }
        }

        Assert.True(unguarded.Count == 0, "Endpoints without a privilege requirement: " + string.Join(", ", unguarded));
    }

    [Fact]
    public async Task No_token_gets_401_and_a_token_without_the_privilege_gets_403()
    {
        using var anonymous = App.Client();
        await ExpectAsync(await anonymous.GetAsync("/api/v1/users"), HttpStatusCode.Unauthorized, "unauthorized");
        var weak = await Seed.UserAsync(App, Core.Users.UserType.Api, "Weak-Client-Secret-1", "System");
        using var client = App.Client();
        using var api = Seed.WithBearer(App, await Seed.TokenAsync(client, weak.Username, "Weak-Client-Secret-1"));
        await ExpectAsync(await api.GetAsync("/api/v1/users"), HttpStatusCode.Forbidden, "forbidden");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = "x" }), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Creating_a_user_answers_201_with_location_and_an_API_user_gets_the_System_role()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("created");
        var response = await api.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", type = "api", password = "An-Api-Secret-Long-1" });
        var user = await ExpectAsync(response, HttpStatusCode.Created);
        Assert.Equal($"/api/v1/users/{user.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        Assert.Equal(["System"], user.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("active", user.GetProperty("status").GetString());
        Assert.False(user.TryGetProperty("passwordHash", out _));

        var fetched = await ExpectAsync(await api.GetAsync($"/api/v1/users/{user.GetProperty("id").GetString()}"), HttpStatusCode.OK);
        Assert.Equal(username, fetched.GetProperty("username").GetString());
        using var client = App.Client();
        Assert.NotEmpty(await Seed.TokenAsync(client, username, "An-Api-Secret-Long-1"));
    }

    [Theory]
    [InlineData("ab", "ok@example.com", "backoffice", "username")]
    [InlineData("has space", "ok@example.com", "backoffice", "username")]
    [InlineData("valid.name", "not-an-email", "backoffice", "email")]
    [InlineData("valid.name", "ok@example.com", "robot", "type")]
    public async Task Bad_input_gets_400_with_field_errors_and_changes_nothing(string username, string email, string type, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var before = await AuditCountAsync();
        var problem = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/users", new { username, email, type }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(before, await AuditCountAsync());
    }

    [Fact]
    public async Task Malformed_JSON_gets_a_400_problem_not_a_500()
    {
        using var api = await Seed.AdminApiAsync(App);
        var response = await api.PostAsync("/api/v1/users", new StringContent("{\"username\": ", System.Text.Encoding.UTF8, "application/json"));
        await ExpectAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Twenty_parallel_creations_of_one_username_give_one_201_and_nineteen_409()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("twenty");
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            api.PostAsJsonAsync("/api/v1/users", new { username = i % 2 == 0 ? username : username.ToUpperInvariant(), email = $"{username}.{i}@example.com", type = "backoffice" })));
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(19, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        foreach (var conflict in responses.Where(r => r.StatusCode == HttpStatusCode.Conflict))
        {
            await ExpectAsync(conflict, HttpStatusCode.Conflict, "username_taken");
        }
    }

    [Fact]
    public async Task Duplicate_email_is_refused_ignoring_case()
    {
        using var api = await Seed.AdminApiAsync(App);
        var user = await CreateUserAsync(api);
        var email = user.GetProperty("email").GetString()!.ToUpperInvariant();
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/users", new { username = Seed.Unique("other"), email, type = "backoffice" }), HttpStatusCode.Conflict, "email_taken");
    }

    [Fact]
    public async Task A_BackOffice_user_never_holds_System_on_any_path()
    {
        using var api = await Seed.AdminApiAsync(App);
        var before = await AuditCountAsync();
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/users", new { username = Seed.Unique("bo"), email = $"{Guid.NewGuid():N}@example.com", type = "backoffice", roles = new[] { "System" } }), HttpStatusCode.Conflict, "system_role_forbidden");
        Assert.Equal(before, await AuditCountAsync());

        var user = await CreateUserAsync(api);
        var id = user.GetProperty("id").GetString();
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{id}/roles", new { roles = new[] { "System" } }), HttpStatusCode.Conflict, "system_role_forbidden");

        var systemGroup = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("sysgroup"), roles = new[] { "System" } }), HttpStatusCode.Created);
        before = await AuditCountAsync();
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/groups/{systemGroup.GetProperty("id").GetString()}/members", new { userIds = new[] { id } }), HttpStatusCode.Conflict, "system_role_forbidden");
        Assert.Empty((await ExpectAsync(await api.GetAsync($"/api/v1/groups/{systemGroup.GetProperty("id").GetString()}"), HttpStatusCode.OK)).GetProperty("members").EnumerateArray());
        Assert.Equal(before, await AuditCountAsync());

        var plainGroup = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("plain"), userIds = new[] { id } }), HttpStatusCode.Created);
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/groups/{plainGroup.GetProperty("id").GetString()}/roles", new { roles = new[] { "System" } }), HttpStatusCode.Conflict, "system_role_forbidden");
        Assert.Empty((await ExpectAsync(await api.GetAsync($"/api/v1/groups/{plainGroup.GetProperty("id").GetString()}"), HttpStatusCode.OK)).GetProperty("roles").EnumerateArray());
        Assert.Empty((await ExpectAsync(await api.GetAsync($"/api/v1/users/{id}"), HttpStatusCode.OK)).GetProperty("roles").EnumerateArray());
    }

    [Fact]
    public async Task An_API_user_always_holds_System()
    {
        using var api = await Seed.AdminApiAsync(App);
        var user = await CreateUserAsync(api, "api");
        var id = user.GetProperty("id").GetString();
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{id}/roles", new { roles = Array.Empty<string>() }), HttpStatusCode.Conflict, "system_role_required");
        Assert.Equal(["System"], (await ExpectAsync(await api.GetAsync($"/api/v1/users/{id}"), HttpStatusCode.OK)).GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { credentialMode = "sso" }), HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task The_reserved_user_cannot_be_changed_deleted_or_given_roles_or_groups()
    {
        using var api = await Seed.AdminApiAsync(App);
        var reserved = (await ExpectAsync(await api.GetAsync("/api/v1/users?username=modular.system"), HttpStatusCode.OK)).GetProperty("items")[0];
        var id = reserved.GetProperty("id").GetString();
        var before = await AuditCountAsync();
        await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { firstName = "Changed" }), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.DeleteAsync($"/api/v1/users/{id}"), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{id}/roles", new { roles = new[] { "System", "Administrator" } }), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.PostAsync($"/api/v1/users/{id}/revoke-tokens", null), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("g"), userIds = new[] { id } }), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/users", new { username = "Modular.System", email = "x@example.com", type = "api" }), HttpStatusCode.Conflict, "reserved_user");
        Assert.Equal(before, await AuditCountAsync());
    }

    [Fact]
    public async Task Deny_beats_allow_across_roles_from_different_sources_and_wildcards_match()
    {
        using var api = await Seed.AdminApiAsync(App);
        var section = "catalog" + Guid.NewGuid().ToString("N")[..6];
        var catalog = await ExpectAsync(await api.GetAsync("/api/v1/resources"), HttpStatusCode.OK);
        var resources = catalog.GetProperty("resources").EnumerateArray().Select(r => new { name = r.GetProperty("name").GetString(), actions = r.GetProperty("actions").EnumerateArray().Select(a => a.GetString()).ToList() }).ToList();
        resources.Add(new { name = (string?)$"{section}.products", actions = new List<string?> { "view", "edit", "add" } });
        await ExpectAsync(await api.PutAsJsonAsync("/api/v1/resources", new { resources }), HttpStatusCode.OK);

        var editors = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = Seed.Unique("Editors"), rules = new[] { new { resource = $"{section}.products", action = "*", effect = "allow" } } }), HttpStatusCode.Created);
        var noEdit = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = Seed.Unique("NoEdit"), rules = new[] { new { resource = "*", action = "edit", effect = "deny" } } }), HttpStatusCode.Created);
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = Seed.Unique("Bad"), rules = new[] { new { resource = "unregistered.section", action = "view", effect = "allow" } } }), HttpStatusCode.Conflict, "unknown_resource");

        var user = await CreateUserAsync(api, roles: [editors.GetProperty("name").GetString()!]);
        var id = user.GetProperty("id").GetString();
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("Shop"), roles = new[] { noEdit.GetProperty("name").GetString() }, userIds = new[] { id } }), HttpStatusCode.Created);
        await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { status = "active" }), HttpStatusCode.OK);
        await Seed.UpdateUserAsync(App, Guid.Parse(id!), u => u.Status = Core.Users.UserStatus.Active);

        async Task<JsonElement> Ask(string action) => await ExpectAsync(await api.PostAsJsonAsync("/api/v1/authorize", new { userId = id, resource = $"{section}.products", action }), HttpStatusCode.OK);
        Assert.True((await Ask("view")).GetProperty("allowed").GetBoolean());
        var edit = await Ask("edit");
        Assert.False(edit.GetProperty("allowed").GetBoolean());
        Assert.Contains("denied by *:edit", edit.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var other = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/authorize", new { userId = id, resource = "sales.orders", action = "view" }), HttpStatusCode.OK);
        Assert.False(other.GetProperty("allowed").GetBoolean());

        var permissions = await ExpectAsync(await api.GetAsync($"/api/v1/users/{id}/permissions"), HttpStatusCode.OK);
        var rules = permissions.GetProperty("rules").EnumerateArray().ToList();
        Assert.Contains(rules, r => r.GetProperty("effect").GetString() == "deny" && r.GetProperty("source").GetProperty("group").GetString() is not null);
        Assert.Contains(rules, r => r.GetProperty("effect").GetString() == "allow" && r.GetProperty("source").ValueKind == JsonValueKind.Object && r.GetProperty("source").GetProperty("group").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task Each_mutating_endpoint_writes_exactly_one_audit_event()
    {
        using var api = await Seed.AdminApiAsync(App);
        async Task Once(Func<Task<HttpResponseMessage>> call, HttpStatusCode status, string action)
        {
            var before = await AuditCountAsync();
            await ExpectAsync(await call(), status);
            Assert.Equal(before + 1, await AuditCountAsync());
            await using var scope = App.Scope(out var db);
            Assert.Equal(action, (await db.AuditEvents.OrderByDescending(e => e.Id).FirstAsync()).Action);
        }

        var username = Seed.Unique("audited");
        JsonElement user = default;
        await Once(async () =>
        {
            var r = await api.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", type = "backoffice" });
            user = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
            return new HttpResponseMessage(r.StatusCode) { Content = new StringContent(user.ToString()) };
        }, HttpStatusCode.Created, "user.created");
        var id = user.GetProperty("id").GetString();
        await Once(() => api.PatchAsJsonAsync($"/api/v1/users/{id}", new { firstName = "Renamed" }), HttpStatusCode.OK, "user.updated");
        await Once(() => api.PutAsJsonAsync($"/api/v1/users/{id}/roles", new { roles = new[] { "Administrator" } }), HttpStatusCode.OK, "user.roles_changed");
        var roleName = Seed.Unique("Audited");
        JsonElement role = default;
        await Once(async () =>
        {
            var r = await api.PostAsJsonAsync("/api/v1/roles", new { name = roleName, privileges = new[] { "VIEW_USERS" } });
            role = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
            return new HttpResponseMessage(r.StatusCode) { Content = new StringContent(role.ToString()) };
        }, HttpStatusCode.Created, "role.created");
        await Once(() => api.PutAsJsonAsync($"/api/v1/roles/{role.GetProperty("id").GetString()}", new { description = "changed" }), HttpStatusCode.OK, "role.updated");
        JsonElement group = default;
        await Once(async () =>
        {
            var r = await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("AuditedGroup") });
            group = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();
            return new HttpResponseMessage(r.StatusCode) { Content = new StringContent(group.ToString()) };
        }, HttpStatusCode.Created, "group.created");
        var gid = group.GetProperty("id").GetString();
        await Once(() => api.PutAsJsonAsync($"/api/v1/groups/{gid}/members", new { userIds = new[] { id } }), HttpStatusCode.OK, "group.members_changed");
        await Once(() => api.PutAsJsonAsync($"/api/v1/groups/{gid}/roles", new { roles = new[] { roleName } }), HttpStatusCode.OK, "group.roles_changed");
        await Once(() => api.DeleteAsync($"/api/v1/groups/{gid}"), HttpStatusCode.NoContent, "group.deleted");
        await Once(() => api.DeleteAsync($"/api/v1/roles/{role.GetProperty("id").GetString()}"), HttpStatusCode.NoContent, "role.deleted");
        await Once(() => api.DeleteAsync($"/api/v1/users/{id}"), HttpStatusCode.NoContent, "user.deleted");

        var events = await ExpectAsync(await api.GetAsync($"/api/v1/audit-events?target={id}&limit=200"), HttpStatusCode.OK);
        Assert.Contains(events.GetProperty("items").EnumerateArray(), e => e.GetProperty("action").GetString() == "user.deleted");
        var builtIn = (await ExpectAsync(await api.GetAsync("/api/v1/roles"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray().First(r => r.GetProperty("name").GetString() == "Administrator");
        var before = await AuditCountAsync();
        await ExpectAsync(await api.DeleteAsync($"/api/v1/roles/{builtIn.GetProperty("id").GetString()}"), HttpStatusCode.Conflict, "builtin_role");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/roles/{builtIn.GetProperty("id").GetString()}", new { name = "Boss" }), HttpStatusCode.Conflict, "builtin_role");
        Assert.Equal(before, await AuditCountAsync());
    }

    [Fact]
    public async Task Roles_export_and_import_merge_and_replace()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("Exported");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name, description = "d", privileges = new[] { "VIEW_USERS" } }), HttpStatusCode.Created);
        var document = await ExpectAsync(await api.GetAsync($"/api/v1/roles/export?names={name}"), HttpStatusCode.OK);
        Assert.Single(document.GetProperty("roles").EnumerateArray());

        var imported = Seed.Unique("Imported");
        var merge = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles/import?mode=merge", new { roles = new object[] { new { name = imported, privileges = new[] { "VIEW_ROLES" } }, new { name, description = "changed", privileges = new[] { "VIEW_USERS" } } } }), HttpStatusCode.OK);
        Assert.Equal([imported], merge.GetProperty("created").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([name], merge.GetProperty("updated").EnumerateArray().Select(e => e.GetString()));

        var all = await ExpectAsync(await api.GetAsync("/api/v1/roles/export"), HttpStatusCode.OK);
        var keep = all.GetProperty("roles").EnumerateArray().Where(r => r.GetProperty("name").GetString() != imported).Select(r => JsonSerializer.Deserialize<object>(r.GetRawText())).ToList();
        var replace = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles/import?mode=replace", new { roles = keep }), HttpStatusCode.OK);
        Assert.Equal([imported], replace.GetProperty("deleted").EnumerateArray().Select(e => e.GetString()));
        var names = (await ExpectAsync(await api.GetAsync("/api/v1/roles"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray().Select(r => r.GetProperty("name").GetString()).ToList();
        Assert.Contains("Administrator", names);
        Assert.Contains("System", names);
        Assert.DoesNotContain(imported, names);
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/roles/import?mode=wipe", new { roles = keep }), HttpStatusCode.BadRequest, "validation_failed");
    }
}
