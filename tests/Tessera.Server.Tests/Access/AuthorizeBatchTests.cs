using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tessera.Core.Access;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Access;

public sealed class SqliteAuthorizeBatchTests(SqliteHost host) : AuthorizeBatchTests<SqliteHost>(host);

public sealed class PostgresAuthorizeBatchTests(PostgresHost host) : AuthorizeBatchTests<PostgresHost>(host);

/// <summary>
/// POST /api/v1/authorize/batch answers each check exactly as POST /api/v1/authorize answers it alone, in order;
/// a malformed check, too many or none refuse the batch with the offending entries named; AUTHORIZE is required.
/// </summary>
public abstract class AuthorizeBatchTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task Each_answer_is_the_single_endpoints_answer_in_the_order_asked()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "batch", Privileges.ViewUsers);
        var (holder, _, _) = await DelegationArrange.ApiUserAsync(admin, [role]);
        var (disabled, _, _) = await DelegationArrange.ApiUserAsync(admin, [role]);
        await Expect.ResponseAsync(await admin.PatchAsJsonAsync($"/api/v1/users/{disabled}", new { status = "disabled" }), HttpStatusCode.OK);

        object[] checks =
        [
            new { userId = holder, privilege = Privileges.ViewUsers },
            new { userId = holder, privilege = Privileges.ManageUsers },
            new { userId = holder, privilege = "view_users" },
            new { userId = holder, resource = "sales.orders", action = "view" },
            new { userId = Guid.NewGuid(), privilege = Privileges.ViewUsers },
            new { userId = disabled, privilege = Privileges.ViewUsers },
            new { userId = holder, privilege = Privileges.ViewUsers },
        ];
        var batch = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { checks }), HttpStatusCode.OK);
        var results = batch.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(checks.Length, results.Count);
        for (var i = 0; i < checks.Length; i++)
        {
            var single = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/authorize", checks[i]), HttpStatusCode.OK);
            Assert.True(JsonElement.DeepEquals(single, results[i]), $"check {i}: alone {single}, in the batch {results[i]}");
        }

        Assert.Equal([true, false, true, false, false, false, true], results.Select(r => r.GetProperty("allowed").GetBoolean()));
    }

    [Fact]
    public async Task A_thousand_checks_are_answered_and_a_thousand_and_one_refused()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (holder, _, _) = await DelegationArrange.ApiUserAsync(admin, []);
        var thousand = Enumerable.Range(0, 1000).Select(i => new { userId = holder, resource = $"area{i % 7}.reports", action = "view" }).ToArray();
        var answered = await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { checks = thousand }), HttpStatusCode.OK);
        Assert.Equal(1000, answered.GetProperty("results").GetArrayLength());

        var refused = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { checks = thousand.Append(thousand[0]).ToArray() }),
            HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(refused.GetProperty("errors").TryGetProperty("checks", out _), refused.ToString());
        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { checks = Array.Empty<object>() }), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { }), HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task A_malformed_check_refuses_the_batch_and_names_each_one()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var holder = Guid.NewGuid();
        object?[] checks =
        [
            new { userId = holder, privilege = Privileges.ViewUsers },
            new { userId = holder },
            new { privilege = Privileges.ViewUsers },
            new { userId = holder, privilege = Privileges.ViewUsers, resource = "a.b", action = "view" },
            new { userId = holder, resource = "a.b" },
            null,
        ];
        var problem = await Expect.ProblemAsync(await admin.PostAsJsonAsync("/api/v1/authorize/batch", new { checks }), HttpStatusCode.BadRequest, "validation_failed");
        var keys = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["checks[1]", "checks[2]", "checks[3]", "checks[4]", "checks[5]"], keys);
    }

    [Fact]
    public async Task Without_AUTHORIZE_the_batch_is_forbidden()
    {
        using var admin = await Seed.AdminApiAsync(App);
        using var actor = await DelegationArrange.ActorAsync(App, admin, [.. DelegationArrange.AllBut(Privileges.Authorize)]);
        await Expect.ProblemAsync(await actor.Client.PostAsJsonAsync("/api/v1/authorize/batch", new { checks = new[] { new { userId = actor.Id, privilege = Privileges.ViewUsers } } }),
            HttpStatusCode.Forbidden, "forbidden");
    }
}
