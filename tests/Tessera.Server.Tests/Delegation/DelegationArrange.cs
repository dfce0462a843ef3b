using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Delegation;

/// <summary>An API user acting through the REST API with its own bearer token.</summary>
public sealed record Actor(Guid Id, string Username, string Secret, string Role, HttpClient Client) : IDisposable
{
    public void Dispose() => Client.Dispose();
}

/// <summary>The arrangements and checks the delegation tests share: actors, roles, the audit trail of refusals.</summary>
public static class DelegationArrange
{
    /// <summary>Every privilege in the catalog, as the built-in Administrator holds them.</summary>
    public static IReadOnlyList<string> All => [.. Privileges.Catalog.Select(p => p.Name).Order(StringComparer.Ordinal)];

    /// <summary>The catalog's privileges outside <paramref name="held"/>, ordered by name: what an Administrator holds beyond an actor.</summary>
    public static IReadOnlyList<string> AllBut(params string[] held) => [.. All.Except(held, StringComparer.Ordinal)];

    /// <summary>A secret that passes the password policy and belongs to nobody else.</summary>
    public static string Secret() => Seed.Unique("Secret-Aa1") + "-x9!";

    /// <summary>As the bootstrap API administrator: a custom role with these privileges; returns its id and name.</summary>
    public static async Task<(Guid Id, string Name)> RoleAsync(HttpClient admin, string prefix, params string[] privileges)
    {
        var name = Seed.Unique(prefix);
        var role = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new { name, description = "delegation test", privileges }), HttpStatusCode.Created);
        return (role.GetProperty("id").GetGuid(), name);
    }

    /// <summary>As the bootstrap API administrator: a group with these roles and members.</summary>
    public static async Task<(Guid Id, string Name)> GroupAsync(HttpClient admin, string[] roles, params Guid[] members)
    {
        var name = Seed.Unique("grp");
        var group = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/groups", new { name, description = "delegation test", roles, userIds = members }), HttpStatusCode.Created);
        return (group.GetProperty("id").GetGuid(), name);
    }

    /// <summary>As the bootstrap API administrator: an API user with these roles (System comes with the type) and a known secret.</summary>
    public static async Task<(Guid Id, string Username, string Secret)> ApiUserAsync(HttpClient admin, string[] roles, string[]? groups = null)
    {
        var username = Seed.Unique("api");
        var secret = Secret();
        var user = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/users", new
        {
            username, email = $"{username}@delegation.test", firstName = "Api", lastName = username, type = "api", roles, groups = groups ?? [], password = secret,
        }), HttpStatusCode.Created);
        return (user.GetProperty("id").GetGuid(), username, secret);
    }

    /// <summary>An actor: an API user whose one custom role holds exactly <paramref name="privileges"/>, with a bearer client.</summary>
    public static async Task<Actor> ActorAsync(TesseraApp app, HttpClient admin, string[] privileges, string[]? groups = null)
    {
        var (_, role) = await RoleAsync(admin, "actor", privileges);
        var (id, username, secret) = await ApiUserAsync(admin, [role], groups);
        return new Actor(id, username, secret, role, await ClientAsync(app, username, secret));
    }

    /// <summary>A bearer client with a fresh token of this API user.</summary>
    public static async Task<HttpClient> ClientAsync(TesseraApp app, string username, string secret)
    {
        using var anonymous = app.Client();
        return Seed.WithBearer(app, await Seed.TokenAsync(anonymous, username, secret));
    }

    /// <summary>Whether this API user gets a token with this secret.</summary>
    public static async Task<bool> SecretWorksAsync(TesseraApp app, string username, string secret)
    {
        using var anonymous = app.Client();
        return (await Seed.RequestTokenAsync(anonymous, username, secret)).IsSuccessStatusCode;
    }

    /// <summary>Signs in through the Back Office page; 302 to "/" when the password is right and the account may sign in.</summary>
    public static async Task AssertSignsInAsync(TesseraApp app, string login, string password)
    {
        using var browser = app.Client(cookies: true);
        var response = await Seed.SignInAsync(browser, login, password);
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"sign-in of {login}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("/", response.Headers.Location?.OriginalString);
    }

    public static async Task<User> StoredUserAsync(TesseraApp app, Guid id)
    {
        await using var scope = app.Scope(out var db);
        return await db.Users.AsNoTracking().SingleAsync(u => u.Id == id);
    }

    public static async Task<Guid> UserIdAsync(TesseraApp app, string username)
    {
        await using var scope = app.Scope(out var db);
        var normalized = Usernames.Normalize(username);
        return await db.Users.Where(u => u.NormalizedUsername == normalized).Select(u => u.Id).SingleAsync();
    }

    public static async Task<bool> UserExistsAsync(TesseraApp app, string username)
    {
        await using var scope = app.Scope(out var db);
        var normalized = Usernames.Normalize(username);
        return await db.Users.AnyAsync(u => u.NormalizedUsername == normalized);
    }

    /// <summary>The role names a user holds directly, ordered by name.</summary>
    public static async Task<List<string>> UserRolesAsync(TesseraApp app, Guid id)
    {
        await using var scope = app.Scope(out var db);
        var names = await db.UserRoles.Where(r => r.UserId == id).Select(r => r.Role!.Name).ToListAsync();
        return [.. names.Order(StringComparer.Ordinal)];
    }

    /// <summary>Asserts a role's stored name and privileges (in any order).</summary>
    public static async Task AssertRoleAsync(TesseraApp app, Guid id, string name, params string[] privileges)
    {
        await using var scope = app.Scope(out var db);
        var role = await db.Roles.AsNoTracking().Include(r => r.Privileges).SingleOrDefaultAsync(r => r.Id == id);
        Assert.True(role is not null, $"the role {name} ({id}) is gone");
        Assert.Equal(name, role.Name);
        Assert.Equal(privileges.Order(StringComparer.Ordinal), role.Privileges.Select(p => p.Privilege).Order(StringComparer.Ordinal));
    }

    public static async Task<bool> RoleExistsAsync(TesseraApp app, string name)
    {
        await using var scope = app.Scope(out var db);
        var normalized = name.ToUpperInvariant();
        return await db.Roles.AnyAsync(r => r.NormalizedName == normalized);
    }

    public static async Task<bool> GroupExistsAsync(TesseraApp app, string name)
    {
        await using var scope = app.Scope(out var db);
        var normalized = name.ToUpperInvariant();
        return await db.Groups.AnyAsync(g => g.NormalizedName == normalized);
    }

    /// <summary>Asserts a group's stored role names and member ids (in any order).</summary>
    public static async Task AssertGroupAsync(TesseraApp app, Guid id, string[] roles, Guid[] members)
    {
        await using var scope = app.Scope(out var db);
        var storedRoles = await db.GroupRoles.Where(r => r.GroupId == id).Select(r => r.Role!.Name).ToListAsync();
        var storedMembers = await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync();
        Assert.Equal(roles.Order(StringComparer.Ordinal), storedRoles.Order(StringComparer.Ordinal));
        Assert.Equal(members.Order(), storedMembers.Order());
    }

    /// <summary>
    /// Puts a password back in the store when a test's attack on a shared bootstrap account got through,
    /// so that the other tests of the class keep their administrators.
    /// </summary>
    public static async Task RestorePasswordAsync(TesseraApp app, Guid id, string password)
    {
        await using var scope = app.Scope(out var db);
        var hasher = scope.ServiceProvider.GetRequiredService<IPasswordHasher<User>>();
        var user = await db.Users.SingleAsync(u => u.Id == id);
        // An API user's secret is its credential named "initial".
        var initial = user.Type == UserType.Api ? await db.ApiCredentials.SingleOrDefaultAsync(c => c.UserId == id && c.NormalizedName == "INITIAL") : null;
        var hash = user.Type == UserType.Api ? initial?.SecretHash : user.PasswordHash;
        if (hash is not null && hasher.VerifyHashedPassword(user, hash, password) != PasswordVerificationResult.Failed
            && user.Status == UserStatus.Active)
        {
            return;
        }

        if (user.Type != UserType.Api)
        {
            user.PasswordHash = hasher.HashPassword(user, password);
        }
        else if (initial is not null)
        {
            initial.SecretHash = hasher.HashPassword(user, password);
        }
        else
        {
            db.ApiCredentials.Add(new ApiCredential { UserId = id, Name = "initial", NormalizedName = "INITIAL", SecretHash = hasher.HashPassword(user, password), CreatedAt = DateTime.UtcNow });
        }

        user.Status = UserStatus.Active;
        user.LockedUntil = null;
        user.FailedSignInCount = 0;
        await db.SaveChangesAsync();
        app.Services.GetRequiredService<CallerDirectory>().Invalidate();
    }

    /// <summary>
    /// Expects a delegation refusal: the status and code, the privileges involved (upper-case, ordered)
    /// when given, and a detail that names each of them.
    /// </summary>
    public static async Task<JsonElement> RefusedAsync(HttpResponseMessage response, HttpStatusCode status, string code, IReadOnlyList<string>? privileges = null)
    {
        var problem = await Expect.ProblemAsync(response, status, code);
        if (privileges is not null)
        {
            Assert.True(problem.TryGetProperty("privileges", out var listed) && listed.ValueKind == JsonValueKind.Array, $"no privileges array in {problem}");
            Assert.Equal(privileges, listed.EnumerateArray().Select(p => p.GetString()!).ToList());
            var detail = problem.GetProperty("detail").GetString()!;
            foreach (var privilege in privileges)
            {
                Assert.True(detail.Contains(privilege, StringComparison.Ordinal), $"the detail does not name {privilege}: {detail}");
            }
        }

        return problem;
    }

    /// <summary>The access.denied events written with this actor, oldest first.</summary>
    public static async Task<List<AuditEvent>> DeniedAsync(TesseraApp app, Guid actorId)
    {
        await app.AuditWrittenAsync();
        await using var scope = app.Scope(out var db);
        return await db.AuditEvents.AsNoTracking().Where(e => e.Action == "access.denied" && e.ActorId == actorId).OrderBy(e => e.Id).ToListAsync();
    }

    /// <summary>
    /// Expects exactly one access.denied event from this actor, aimed at the given target, whose details name
    /// the change attempted, the reason, and (when given) the privileges involved. A null
    /// <paramref name="targetId"/> is not checked (creations and imports have no id to name).
    /// </summary>
    public static async Task AssertOneDeniedAsync(TesseraApp app, Guid actorId, string attempted, string reason, IReadOnlyList<string>? privileges,
        string targetType, Guid? targetId, params string[] targetNames)
    {
        var events = await DeniedAsync(app, actorId);
        Assert.True(events.Count == 1, $"expected one access.denied from {actorId}, found {events.Count}: "
            + string.Join(" | ", events.Select(e => $"{e.TargetType}/{e.TargetName}: {e.Details}")));
        var denied = events[0];
        var seen = $"{denied.Outcome} {denied.TargetType}/{denied.TargetId}/{denied.TargetName} {denied.Details}";
        Assert.True(denied.Outcome == "failure", seen);
        Assert.True(denied.TargetType == targetType, $"expected target type {targetType}: {seen}");
        if (targetId is not null)
        {
            Assert.True(denied.TargetId == targetId.Value.ToString(), $"expected target id {targetId}: {seen}");
        }

        if (targetNames.Length > 0)
        {
            Assert.True(targetNames.Contains(denied.TargetName), $"expected target name {string.Join(" or ", targetNames)}: {seen}");
        }

        Assert.False(string.IsNullOrEmpty(denied.Details), seen);
        var details = JsonDocument.Parse(denied.Details!).RootElement;
        Assert.True(details.TryGetProperty("attempted", out var attemptedValue) && attemptedValue.GetString() == attempted, $"expected attempted {attempted}: {seen}");
        Assert.True(details.TryGetProperty("reason", out var reasonValue) && reasonValue.GetString() == reason, $"expected reason {reason}: {seen}");
        Assert.True(details.TryGetProperty("privileges", out var listed) && listed.ValueKind == JsonValueKind.Array, $"expected a privileges array: {seen}");
        if (privileges is not null)
        {
            Assert.Equal(privileges, listed.EnumerateArray().Select(p => p.GetString()!).ToList());
        }
    }

    public static async Task AssertNoneDeniedAsync(TesseraApp app, Guid actorId)
    {
        var events = await DeniedAsync(app, actorId);
        Assert.True(events.Count == 0, "unexpected access.denied: " + string.Join(" | ", events.Select(e => $"{e.TargetType}/{e.TargetName}: {e.Details}")));
    }
}
