using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Governance;

public sealed class SqliteSeparationOfDutiesTests(SqliteHost host) : SeparationOfDutiesTests<SqliteHost>(host);

public sealed class PostgresSeparationOfDutiesTests(PostgresHost host) : SeparationOfDutiesTests<PostgresHost>(host);

/// <summary>
/// Separation of duties: constraints are managed over the API, a constraint users already break is refused with
/// the list, and every path that gives someone a role (directly, at creation, through a group's roles or
/// membership) is refused when it would break one, also under concurrent requests. Each test names its own roles,
/// so the constraints of one test never touch another's users.
/// </summary>
public abstract class SeparationOfDutiesTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task A_constraint_is_created_read_listed_replaced_and_deleted_with_audit()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, maker) = await DelegationArrange.RoleAsync(admin, "maker");
        var (_, checker) = await DelegationArrange.RoleAsync(admin, "checker");
        var (_, auditor) = await DelegationArrange.RoleAsync(admin, "auditor");
        var name = Seed.Unique("sod");

        var response = await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name, description = "Payments maker/checker", roles = new[] { maker, checker } });
        var created = await Expect.ResponseAsync(response, HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/sod-constraints/{id}", response.Headers.Location?.ToString());
        Assert.Equal(name, created.GetProperty("name").GetString());
        Assert.Equal("Payments maker/checker", created.GetProperty("description").GetString());
        Assert.Equal(1, created.GetProperty("maxHeld").GetInt32());
        Assert.Equal(new[] { maker, checker }.Order(StringComparer.OrdinalIgnoreCase), Names(created.GetProperty("roles")));
        Assert.NotEqual(default, created.GetProperty("createdAt").GetDateTime());

        var read = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/sod-constraints/{id}"), HttpStatusCode.OK);
        Assert.Equal(name, read.GetProperty("name").GetString());
        var list = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/sod-constraints"), HttpStatusCode.OK);
        Assert.Contains(list.GetProperty("items").EnumerateArray(), c => c.GetProperty("id").GetGuid() == id);

        var replaced = await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/sod-constraints/{id}",
            new { name = name + "x", roles = new[] { maker, checker, auditor }, maxHeld = 2 }), HttpStatusCode.OK);
        Assert.Equal(name + "x", replaced.GetProperty("name").GetString());
        Assert.Equal("", replaced.GetProperty("description").GetString());
        Assert.Equal(2, replaced.GetProperty("maxHeld").GetInt32());
        Assert.Equal(new[] { maker, checker, auditor }.Order(StringComparer.OrdinalIgnoreCase), Names(replaced.GetProperty("roles")));

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/sod-constraints/{id}")).StatusCode);
        await Expect.ProblemAsync(await admin.GetAsync($"/api/v1/sod-constraints/{id}"), HttpStatusCode.NotFound, "not_found");
        await Expect.ProblemAsync(await admin.DeleteAsync($"/api/v1/sod-constraints/{id}"), HttpStatusCode.NotFound, "not_found");

        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        var actions = await db.AuditEvents.Where(a => a.TargetId == id.ToString()).OrderBy(a => a.Id).Select(a => a.Action).ToListAsync();
        Assert.Equal(["sod_constraint.created", "sod_constraint.updated", "sod_constraint.deleted"], actions);
    }

    [Fact]
    public async Task Malformed_constraints_are_refused_with_their_codes()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, a) = await DelegationArrange.RoleAsync(admin, "sa");
        var (_, b) = await DelegationArrange.RoleAsync(admin, "sb");

        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { roles = new[] { a, b } }), HttpStatusCode.BadRequest, "validation_failed");
        var oneRole = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, a.ToUpperInvariant() } }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(oneRole.GetProperty("errors").TryGetProperty("roles", out _), oneRole.ToString());
        var maxHeld = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, b }, maxHeld = 2 }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(maxHeld.GetProperty("errors").TryGetProperty("maxHeld", out _), maxHeld.ToString());
        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, b }, maxHeld = 0 }), HttpStatusCode.BadRequest, "validation_failed");
        var unknown = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, "no-such-role" } }), HttpStatusCode.Conflict, "unknown_role");
        Assert.Contains("no-such-role", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var name = Seed.Unique("sod");
        var first = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name, roles = new[] { a, b } }), HttpStatusCode.Created);
        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = name.ToUpperInvariant(), roles = new[] { a, b } }), HttpStatusCode.Conflict, "sod_constraint_name_taken");
        var other = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = name + "2", roles = new[] { a, b } }), HttpStatusCode.Created);
        await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/sod-constraints/{other.GetProperty("id").GetGuid()}", new { name, roles = new[] { a, b } }), HttpStatusCode.Conflict, "sod_constraint_name_taken");
        await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/sod-constraints/{Guid.NewGuid()}", new { name = Seed.Unique("sod"), roles = new[] { a, b } }), HttpStatusCode.NotFound, "not_found");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/v1/sod-constraints/{first.GetProperty("id").GetGuid()}")).StatusCode);
    }

    [Fact]
    public async Task Only_holders_of_MANAGE_GOVERNANCE_read_or_change_constraints()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var actor = await DelegationArrange.ActorAsync(App, admin, [.. DelegationArrange.AllBut(Core.Access.Privileges.ManageGovernance)]);
        var (_, a) = await DelegationArrange.RoleAsync(admin, "sa");
        var (_, b) = await DelegationArrange.RoleAsync(admin, "sb");
        await Expect.ProblemAsync(await actor.Client.GetAsync("/api/v1/sod-constraints"), HttpStatusCode.Forbidden, "forbidden");
        await Expect.ProblemAsync(await actor.Client.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, b } }), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Every_path_that_would_give_both_roles_is_refused_naming_the_constraint_and_roles()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (a, b, constraintId, constraint) = await ConstrainedPairAsync(admin);
        var (groupB, groupBName) = await DelegationArrange.GroupAsync(admin, [b.Name]);
        var holder = await Seed.UserAsync(App, UserType.BackOffice, null, a.Name);

        // A direct grant.
        await ExpectViolationAsync(await admin.PutAsJsonAsync($"/api/v1/users/{holder.Id}/roles", new { roles = new[] { a.Name, b.Name } }), constraintId, constraint, a.Name, b.Name);

        // Creation with both roles, and with one role and a group that brings the other.
        await ExpectViolationAsync(await admin.PostAsJsonAsync("/api/v1/users", NewUser(roles: [a.Name, b.Name], groups: [])), constraintId, constraint, a.Name, b.Name);
        var viaGroup = NewUser(roles: [a.Name], groups: [groupBName]);
        await ExpectViolationAsync(await admin.PostAsJsonAsync("/api/v1/users", viaGroup), constraintId, constraint, a.Name, b.Name);
        Assert.False(await DelegationArrange.UserExistsAsync(App, (string)viaGroup.GetType().GetProperty("username")!.GetValue(viaGroup)!));

        // Joining a group that holds the other role.
        await ExpectViolationAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupB}/members", new { userIds = new[] { holder.Id } }), constraintId, constraint, a.Name, b.Name);

        // A group whose members hold one role gaining the other, by its roles or at its creation with members.
        var (groupA, _) = await DelegationArrange.GroupAsync(admin, [a.Name], holder.Id);
        var plain = await Seed.UserAsync(App, UserType.BackOffice, null);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupA}/members", new { userIds = new[] { holder.Id, plain.Id } }), HttpStatusCode.OK);
        await ExpectViolationAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupA}/roles", new { roles = new[] { a.Name, b.Name } }), constraintId, constraint, a.Name, b.Name);
        await ExpectViolationAsync(await admin.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("grp"), roles = new[] { b.Name }, userIds = new[] { holder.Id } }), constraintId, constraint, a.Name, b.Name);
        await ExpectViolationAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupB}", new { name = groupBName, userIds = new[] { plain.Id } }), constraintId, constraint, a.Name, b.Name);

        // Nothing of it stuck, and a grant within the constraint still passes.
        Assert.Equal([a.Name], await HeldAsync(holder.Id, a.Id, b.Id));
        Assert.Equal([a.Name], await HeldAsync(plain.Id, a.Id, b.Id));
        var other = await Seed.UserAsync(App, UserType.BackOffice, null);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{other.Id}/roles", new { roles = new[] { b.Name } }), HttpStatusCode.OK);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/groups/{groupB}/members", new { userIds = new[] { other.Id } }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_grant_not_yet_begun_counts_and_an_ended_one_does_not()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (a, b, constraintId, constraint) = await ConstrainedPairAsync(admin);
        // Whole seconds: a range sent back exactly as stored must read as the same range on both providers.
        var clock = App.Clock.GetUtcNow().UtcDateTime;
        var now = new DateTime(clock.Ticks - clock.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

        // Two toxic roles may not overlap at any time: a grant that begins next month is already held.
        var future = await Seed.UserAsync(App, UserType.BackOffice, null);
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{future.Id}/roles",
            new { roles = new object[] { new { name = a.Name, validFrom = now.AddDays(30).ToString("O") } } }), HttpStatusCode.OK);
        await ExpectViolationAsync(await admin.PutAsJsonAsync($"/api/v1/users/{future.Id}/roles",
            new { roles = new object[] { new { name = a.Name, validFrom = now.AddDays(30).ToString("O") }, b.Name } }), constraintId, constraint, a.Name, b.Name);

        // A grant that has ended gives nothing, so the other role may be granted beside it.
        var lapsed = await Seed.UserAsync(App, UserType.BackOffice, null);
        await using (var scope = App.Scope(out var db))
        {
            db.UserRoles.Add(new UserRole { UserId = lapsed.Id, RoleId = a.Id, ValidFrom = now.AddDays(-30), ValidUntil = now.AddDays(-1) });
            await db.SaveChangesAsync();
        }

        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/users/{lapsed.Id}/roles",
            new { roles = new object[] { new { name = a.Name, validFrom = now.AddDays(-30).ToString("O"), validUntil = now.AddDays(-1).ToString("O") }, b.Name } }), HttpStatusCode.OK);
        Assert.Equal([a.Name, b.Name], await HeldAsync(lapsed.Id, a.Id, b.Id));
    }

    [Fact]
    public async Task A_constraint_that_users_already_break_is_refused_listing_them()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (aId, a) = await DelegationArrange.RoleAsync(admin, "sa");
        var (bId, b) = await DelegationArrange.RoleAsync(admin, "sb");
        var (_, c) = await DelegationArrange.RoleAsync(admin, "sc");
        var direct = await Seed.UserAsync(App, UserType.BackOffice, null, a, b);
        var throughGroup = await Seed.UserAsync(App, UserType.BackOffice, null, a);
        await DelegationArrange.GroupAsync(admin, [b], throughGroup.Id);
        var innocent = await Seed.UserAsync(App, UserType.BackOffice, null, a, c);

        var refused = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name = Seed.Unique("sod"), roles = new[] { a, b } }), HttpStatusCode.Conflict, "sod_existing_violations");
        Assert.Equal(2, refused.GetProperty("total").GetInt32());
        var listed = refused.GetProperty("violations").EnumerateArray().ToDictionary(v => v.GetProperty("userId").GetGuid());
        Assert.Equal(new[] { direct.Id, throughGroup.Id }.Order(), listed.Keys.Order());
        Assert.Equal(direct.Username, listed[direct.Id].GetProperty("username").GetString());
        Assert.Equal(new[] { a, b }.Order(StringComparer.OrdinalIgnoreCase), Names(listed[throughGroup.Id].GetProperty("roles")));

        // Widening an existing constraint is judged the same way, and changes nothing when refused.
        var name = Seed.Unique("sod");
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name, roles = new[] { b, c } }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        var widened = await Expect.ProblemAsync(await admin.PutAsJsonAsync($"/api/v1/sod-constraints/{id}", new { name, roles = new[] { a, b, c } }), HttpStatusCode.Conflict, "sod_existing_violations");
        Assert.Equal(3, widened.GetProperty("total").GetInt32());
        Assert.Contains(widened.GetProperty("violations").EnumerateArray(), v => v.GetProperty("userId").GetGuid() == innocent.Id);
        var unchanged = await Expect.ResponseAsync(await admin.GetAsync($"/api/v1/sod-constraints/{id}"), HttpStatusCode.OK);
        Assert.Equal(new[] { b, c }.Order(StringComparer.OrdinalIgnoreCase), Names(unchanged.GetProperty("roles")));

        // A maxHeld that tolerates what users hold passes.
        await Expect.ResponseAsync(await admin.PutAsJsonAsync($"/api/v1/sod-constraints/{id}", new { name, roles = new[] { a, b, c }, maxHeld = 2 }), HttpStatusCode.OK);
        _ = (aId, bId);
    }

    [Fact]
    public async Task Twenty_concurrent_grants_of_two_conflicting_roles_never_leave_a_user_holding_both()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (a, b, constraintId, constraint) = await ConstrainedPairAsync(admin);
        var (groupA, _) = await DelegationArrange.GroupAsync(admin, [a.Name]);
        var (groupB, _) = await DelegationArrange.GroupAsync(admin, [b.Name]);
        var user = await Seed.UserAsync(App, UserType.BackOffice, null);

        // Ten requests give A, ten give B; of each, half as a direct grant and half through a group's membership.
        var requests = Enumerable.Range(0, 20).Select(i => (i % 4) switch
        {
            0 => admin.PutAsJsonAsync($"/api/v1/users/{user.Id}/roles", new { roles = new[] { a.Name } }),
            1 => admin.PutAsJsonAsync($"/api/v1/groups/{groupA}/members", new { userIds = new[] { user.Id } }),
            2 => admin.PutAsJsonAsync($"/api/v1/users/{user.Id}/roles", new { roles = new[] { b.Name } }),
            _ => admin.PutAsJsonAsync($"/api/v1/groups/{groupB}/members", new { userIds = new[] { user.Id } }),
        }).ToList();
        var responses = await Task.WhenAll(requests);

        var refusals = 0;
        foreach (var response in responses)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                continue;
            }

            refusals++;
            var problem = await Expect.ProblemAsync(response, HttpStatusCode.Conflict, "sod_violation");
            Assert.Equal(constraintId, problem.GetProperty("constraintId").GetGuid());
            Assert.Equal(constraint, problem.GetProperty("constraint").GetString());
        }

        // One of the memberships lands first and stays; every request for the other role after it is refused.
        Assert.True(refusals >= 5, $"only {refusals} refusals");
        var held = await HeldAsync(user.Id, a.Id, b.Id);
        Assert.Single(held);
    }

    [Fact]
    public async Task A_role_that_a_constraint_names_cannot_be_deleted_or_dropped_by_an_import()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (a, b, constraintId, constraint) = await ConstrainedPairAsync(admin);

        var refused = await Expect.ProblemAsync(await admin.DeleteAsync($"/api/v1/roles/{a.Id}"), HttpStatusCode.Conflict, "role_in_sod_constraint");
        Assert.Contains(constraint, refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(constraintId, refused.GetProperty("constraintId").GetGuid());
        Assert.True(await DelegationArrange.RoleExistsAsync(App, a.Name));

        var export = await Expect.ResponseAsync(await admin.GetAsync("/api/v1/roles/export"), HttpStatusCode.OK);
        var kept = export.GetProperty("roles").EnumerateArray().Where(r => r.GetProperty("name").GetString() != b.Name).ToList();
        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/roles/import?mode=replace", new { roles = kept }), HttpStatusCode.Conflict, "role_in_sod_constraint");
        Assert.True(await DelegationArrange.RoleExistsAsync(App, b.Name));

        // Once the constraint is gone, the role goes too.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/sod-constraints/{constraintId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/roles/{a.Id}")).StatusCode);
    }

    [Fact]
    public async Task The_Back_Office_page_creates_a_constraint_and_shows_the_users_who_already_break_one()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, a) = await DelegationArrange.RoleAsync(admin, "sa");
        var (_, b) = await DelegationArrange.RoleAsync(admin, "sb");
        var (_, c) = await DelegationArrange.RoleAsync(admin, "sc");
        var breaking = await Seed.UserAsync(App, UserType.BackOffice, null, a, c);
        using var browser = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, TesseraApp.AdminUsername, TesseraApp.AdminPassword)).StatusCode);
        Assert.Contains("href=\"/admin/sod-constraints\"", await browser.GetStringAsync("/admin/users"), StringComparison.Ordinal);

        var name = Seed.Unique("sod");
        var form = await browser.GetStringAsync("/admin/sod-constraints/new");
        var created = await browser.PostAsync("/admin/sod-constraints/new", Form(form, ("Name", name), ("Roles", a), ("Roles", b), ("MaxHeld", "1")));
        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        Assert.Contains(name, await browser.GetStringAsync("/admin/sod-constraints"), StringComparison.Ordinal);

        form = await browser.GetStringAsync("/admin/sod-constraints/new");
        var refused = await browser.PostAsync("/admin/sod-constraints/new", Form(form, ("Name", Seed.Unique("sod")), ("Roles", a), ("Roles", c), ("MaxHeld", "1")));
        var page = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("id=\"sod-violations\"", page, StringComparison.Ordinal);
        Assert.Contains($"data-user=\"{breaking.Username}\"", page, StringComparison.Ordinal);
    }

    private static FormUrlEncodedContent Form(string page, params (string Key, string Value)[] fields)
        => new([.. fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)), new("__RequestVerificationToken", Seed.AntiforgeryToken(page))]);

    private static async Task<((Guid Id, string Name) A, (Guid Id, string Name) B, Guid ConstraintId, string Constraint)> ConstrainedPairAsync(HttpClient admin)
    {
        var a = await DelegationArrange.RoleAsync(admin, "sa");
        var b = await DelegationArrange.RoleAsync(admin, "sb");
        var name = Seed.Unique("sod");
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/sod-constraints", new { name, roles = new[] { a.Name, b.Name }, maxHeld = 1 }), HttpStatusCode.Created);
        return (a, b, created.GetProperty("id").GetGuid(), name);
    }

    private static object NewUser(string[] roles, string[] groups)
    {
        var username = Seed.Unique("bo");
        return new { username, email = $"{username}@sod.test", firstName = "Sod", lastName = username, type = "backoffice", roles, groups };
    }

    private static async Task ExpectViolationAsync(HttpResponseMessage response, Guid constraintId, string constraint, params string[] roles)
    {
        var problem = await Expect.ProblemAsync(response, HttpStatusCode.Conflict, "sod_violation");
        Assert.Equal(constraint, problem.GetProperty("constraint").GetString());
        Assert.Equal(constraintId, problem.GetProperty("constraintId").GetGuid());
        Assert.Equal(roles.Order(StringComparer.OrdinalIgnoreCase), Names(problem.GetProperty("roles")));
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains(constraint, detail, StringComparison.Ordinal);
        Assert.All(roles, r => Assert.Contains(r, detail, StringComparison.Ordinal));
    }

    /// <summary>Which of the two roles the user holds, directly or through groups, as stored.</summary>
    private async Task<List<string>> HeldAsync(Guid userId, Guid a, Guid b)
    {
        await using var scope = App.Scope(out var db);
        var ids = new[] { a, b };
        var direct = await db.UserRoles.Where(r => r.UserId == userId && ids.Contains(r.RoleId)).Select(r => r.Role!.Name).ToListAsync();
        var throughGroups = await db.GroupMembers.Where(m => m.UserId == userId)
            .Join(db.GroupRoles.Where(g => ids.Contains(g.RoleId)), m => m.GroupId, g => g.GroupId, (m, g) => g.Role!.Name).ToListAsync();
        return [.. direct.Concat(throughGroups).Distinct().Order(StringComparer.Ordinal)];
    }

    private static IEnumerable<string> Names(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);
}
