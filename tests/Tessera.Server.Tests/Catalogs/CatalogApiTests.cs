using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Customers;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Catalogs;

public sealed class SqliteCatalogApiTests(SqliteHost host) : CatalogApiTests<SqliteHost>(host);

public sealed class PostgresCatalogApiTests(PostgresHost host) : CatalogApiTests<PostgresHost>(host);

/// <summary>
/// The REST answers behind the customers, resources and roles pages: a role's holders (direct and through groups,
/// keyset-paged), a customer's agents, the resource catalog's version guard, and the CSV import preview that writes nothing.
/// </summary>
public abstract class CatalogApiTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private DateTime Now => App.Clock.GetUtcNow().UtcDateTime;

    [Fact]
    public async Task Holders_list_direct_and_group_holdings_with_validity_in_pages_of_fifty_without_gaps_or_repeats()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (roleId, role) = await DelegationArrange.RoleAsync(admin, "holders", Privileges.ViewAuditLog);
        var (direct, directName, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (member, memberName, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (both, bothName, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, [role], member, both);
        var from = Now.AddDays(1);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{direct}/roles", new
        {
            roles = new object[] { "System", new { name = role, validFrom = from } },
        }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{both}/roles", new { roles = new[] { "System", role } }), HttpStatusCode.OK);
        var seeded = await HoldersAsync(roleId, 55);

        var first = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders"), HttpStatusCode.OK);
        Assert.Equal(50, first.GetProperty("items").GetArrayLength());
        var cursor = first.GetProperty("nextCursor").GetString();
        Assert.NotNull(cursor);
        var second = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders?cursor={cursor}"), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        var items = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).ToList();

        // 55 seeded direct holders, one direct pending, one through the group, one both ways: 59 rows.
        Assert.Equal(59, items.Count);
        var keys = items.Select(i => $"{i.GetProperty("username").GetString()!.ToUpperInvariant()}|{i.GetProperty("via").GetString()}").ToList();
        Assert.Equal(keys.Distinct().Count(), keys.Count);
        Assert.All(seeded, s => Assert.Contains(items, i => i.GetProperty("userId").GetGuid() == s));

        var pending = Assert.Single(items, i => i.GetProperty("userId").GetGuid() == direct);
        Assert.Equal(("direct", "pending", directName, "Api"), (pending.GetProperty("via").GetString(), pending.GetProperty("state").GetString(), pending.GetProperty("username").GetString(), pending.GetProperty("type").GetString()));
        Assert.Equal(from, pending.GetProperty("validFrom").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(JsonValueKind.Null, pending.GetProperty("group").ValueKind);

        var viaGroup = Assert.Single(items, i => i.GetProperty("userId").GetGuid() == member);
        Assert.Equal(("group", group, groupId, "active", memberName), (viaGroup.GetProperty("via").GetString(), viaGroup.GetProperty("group").GetString(),
            viaGroup.GetProperty("groupId").GetGuid(), viaGroup.GetProperty("state").GetString(), viaGroup.GetProperty("username").GetString()));
        Assert.Equal(["direct", "group"], items.Where(i => i.GetProperty("username").GetString() == bothName).Select(i => i.GetProperty("via").GetString()!));

        var limited = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders?limit=2"), HttpStatusCode.OK);
        Assert.Equal(2, limited.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Holders_refuse_a_bad_cursor_or_limit_an_unknown_role_and_a_caller_without_view_users()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (roleId, _) = await DelegationArrange.RoleAsync(admin, "holders", Privileges.ViewAuditLog);
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders?cursor=not-a-cursor"), HttpStatusCode.BadRequest, "invalid_cursor");
        var forged = Convert.ToBase64String(Encoding.UTF8.GetBytes("[\"A\",\"sideways\",\"\"]")).TrimEnd('=');
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders?cursor={forged}"), HttpStatusCode.BadRequest, "invalid_cursor");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/roles/{roleId}/holders?limit=0"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/roles/{Guid.NewGuid()}/holders"), HttpStatusCode.NotFound, "not_found");

        var rolesOnly = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewRoles]);
        Assert.Equal(HttpStatusCode.Forbidden, (await rolesOnly.Client.GetAsync($"/api/v1/roles/{roleId}/holders")).StatusCode);
        var both = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewRoles, Privileges.ViewUsers]);
        Assert.Equal(HttpStatusCode.OK, (await both.Client.GetAsync($"/api/v1/roles/{roleId}/holders")).StatusCode);
    }

    [Fact]
    public async Task A_customers_agents_are_those_scoped_to_all_and_those_it_is_assigned_to()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var customer = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/customers", new { reference = Seed.Unique("C"), email = $"{Guid.NewGuid():N}@shop.test" }), HttpStatusCode.Created);
        var customerId = customer.GetProperty("id").GetGuid();
        var everywhere = await Seed.UserAsync(App, UserType.BackOffice, null);
        var assigned = await Seed.UserAsync(App, UserType.BackOffice, null);
        var elsewhere = await Seed.UserAsync(App, UserType.BackOffice, null);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{everywhere.Id}/customers", new { scope = "all" }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{assigned.Id}/customers", new { scope = "assigned", customerIds = new[] { customerId } }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{elsewhere.Id}/customers", new { scope = "assigned", customerIds = Array.Empty<Guid>() }), HttpStatusCode.OK);

        var agents = (await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/customers/{customerId}/agents"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal("all", Assert.Single(agents, a => a.GetProperty("userId").GetGuid() == everywhere.Id).GetProperty("via").GetString());
        var held = Assert.Single(agents, a => a.GetProperty("userId").GetGuid() == assigned.Id);
        Assert.Equal(("assigned", assigned.Username), (held.GetProperty("via").GetString(), held.GetProperty("username").GetString()));
        Assert.DoesNotContain(agents, a => a.GetProperty("userId").GetGuid() == elsewhere.Id);

        await using (var scope = App.Services.CreateAsyncScope())
        {
            var counts = await scope.ServiceProvider.GetRequiredService<Tessera.Server.AgentAssist.AgentScopeService>().AgentCountsAsync([customerId], CancellationToken.None);
            Assert.Equal(agents.Count, counts[customerId]);
        }

        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/customers/{Guid.NewGuid()}/agents"), HttpStatusCode.NotFound, "not_found");
        var customersOnly = await DelegationArrange.ActorAsync(App, admin, [Privileges.ManageCustomers]);
        Assert.Equal(HttpStatusCode.Forbidden, (await customersOnly.Client.GetAsync($"/api/v1/customers/{customerId}/agents")).StatusCode);
    }

    [Fact]
    public async Task The_resource_catalog_is_replaced_only_from_its_current_version_and_a_used_action_names_its_roles()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var read = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/resources"), HttpStatusCode.OK);
        var version = read.GetProperty("version").GetString();
        var resources = read.GetProperty("resources").Deserialize<List<Tessera.Server.Roles.ResourceDto>>(JsonSerializerOptions.Web)!;
        var section = Seed.Unique("sec").ToLowerInvariant();
        resources.Add(new Tessera.Server.Roles.ResourceDto(section, ["read", "write"]));

        var replaced = await Expect.ResponseAsync(await admin.PutAsJsonAsync("/api/v1/resources", new { resources, version }), HttpStatusCode.OK);
        var next = replaced.GetProperty("version").GetString();
        Assert.NotEqual(version, next);
        Assert.Equal(next, (await Expect.ResponseAsync(await admin.GetAsync("/api/v1/resources"), HttpStatusCode.OK)).GetProperty("version").GetString());

        // A writer still holding the first version is refused, and the catalog stays as the first writer left it.
        await Expect.ProblemAsync(await admin.PutAsJsonAsync("/api/v1/resources", new { resources = Array.Empty<object>(), version }), HttpStatusCode.Conflict, "resource_catalog_changed");
        Assert.Contains(section, (await admin.GetStringAsync("/api/v1/resources")));

        // Removing an action a role's rule names is refused, naming the role.
        var role = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new
        {
            name = Seed.Unique("writer"), privileges = Array.Empty<string>(), rules = new[] { new { resource = section, action = "write", effect = "allow" } },
        }), HttpStatusCode.Created);
        resources[^1] = new Tessera.Server.Roles.ResourceDto(section, ["read"]);
        var refused = await Expect.ProblemAsync(await admin.PutAsJsonAsync("/api/v1/resources", new { resources, version = next }), HttpStatusCode.Conflict, "resource_in_use");
        Assert.Equal(role.GetProperty("name").GetString(), Assert.Single(refused.GetProperty("roles").EnumerateArray()).GetString());
        Assert.Equal("write", refused.GetProperty("action").GetString());

        // Without a version the catalog is replaced as before.
        resources[^1] = new Tessera.Server.Roles.ResourceDto(section, ["read", "write", "archive"]);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync("/api/v1/resources", new { resources }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_import_preview_names_each_lines_problems_and_counts_writing_nothing()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var known = Seed.Unique("K");
        await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/customers", new { reference = known, email = $"{known.ToLowerInvariant()}@shop.test", firstName = "Kim" }), HttpStatusCode.Created);
        var fresh = Seed.Unique("N");
        var csv = $"""
            reference,email,firstName,lastName,status
            {fresh},{fresh.ToLowerInvariant()}@shop.test,Nina,New,
            {known},{known.ToLowerInvariant()}@shop.test,Kim,Changed,
            {known},{known.ToLowerInvariant()}@shop.test,Kim,,
            bad ref,not-an-email,A,B,sleeping
            short,row
            """;

        await using var scope = App.Services.CreateAsyncScope();
        var preview = await scope.ServiceProvider.GetRequiredService<CustomerCsvImport>().PreviewAsync(Encoding.UTF8.GetBytes(csv), CancellationToken.None);
        Assert.Null(preview.FileError);
        Assert.False(preview.Importable);
        Assert.Equal(5, preview.Records);
        Assert.Equal((1, 1, 0), (preview.Created, preview.Updated, preview.Unchanged));
        Assert.Contains(preview.Problems, p => p is { Line: 4, Field: "reference" } && p.Message.Contains("line 3", StringComparison.Ordinal));
        Assert.Contains(preview.Problems, p => p is { Line: 5, Field: "reference" });
        Assert.Contains(preview.Problems, p => p is { Line: 5, Field: "email" });
        Assert.Contains(preview.Problems, p => p is { Line: 5, Field: "status" });
        Assert.Contains(preview.Problems, p => p is { Line: 6, Field: "row" });
        Assert.Equal(preview.Problems.OrderBy(p => p.Line).Select(p => p.Line), preview.Problems.Select(p => p.Line));

        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        Assert.False(await db.Customers.AnyAsync(c => c.NormalizedReference == fresh.ToUpperInvariant()));
        Assert.Equal("", (await db.Customers.SingleAsync(c => c.NormalizedReference == known.ToUpperInvariant())).LastName);

        var wrong = await scope.ServiceProvider.GetRequiredService<CustomerCsvImport>().PreviewAsync(Encoding.Latin1.GetBytes("reference,email,firstName,lastName\nC,c@x.test,Jürgen,B\n"), CancellationToken.None);
        Assert.Equal(Core.Customers.CustomerCsv.NotUtf8, wrong.FileError);
    }

    /// <summary>Users holding the role directly, written in one save.</summary>
    private async Task<List<Guid>> HoldersAsync(Guid roleId, int count)
    {
        await using var scope = App.Scope(out var db);
        var now = DateTime.UtcNow;
        var users = Enumerable.Range(0, count).Select(i =>
        {
            var user = new User { Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "", Type = UserType.Api, Status = UserStatus.Active, CreatedAt = now, UpdatedAt = now };
            var name = Seed.Unique("holder");
            user.SetUsername(name);
            user.SetEmail($"{name}@seed.test");
            user.Roles.Add(new UserRole { RoleId = roleId });
            return user;
        }).ToList();
        db.Users.AddRange(users);
        await db.SaveChangesAsync();
        return [.. users.Select(u => u.Id)];
    }
}
