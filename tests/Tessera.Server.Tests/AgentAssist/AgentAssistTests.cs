using System.IdentityModel.Tokens.Jwt;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.Core.Users;
using Tessera.Server.AgentAssist;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.AgentAssist;

public sealed class SqliteAgentAssistTests(SqliteHost host) : AgentAssistTests<SqliteHost>(host);

public sealed class PostgresAgentAssistTests(PostgresHost host) : AgentAssistTests<PostgresHost>(host);

/// <summary>Storefront customers, agents' scopes and search, and impersonation by token exchange, over HTTP.</summary>
public abstract class AgentAssistTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private const string Password = "Agent-Password-12345";
    private const string ExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string ReferenceType = "urn:tessera:params:customer-reference";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    private TesseraApp App => host.App;

    // ---- customers ----

    [Fact]
    public async Task A_customer_is_created_read_changed_listed_and_deleted_with_audit_events()
    {
        using var api = await Seed.AdminApiAsync(App);
        var reference = Seed.Unique("C");
        var response = await api.PostAsJsonAsync("/api/v1/customers", new { reference, email = $"{reference}@shop.test", firstName = "Ada", lastName = "Lovelace" });
        var created = await ExpectAsync(response, HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal($"/api/v1/customers/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("active", created.GetProperty("status").GetString());

        var fetched = await ExpectAsync(await api.GetAsync($"/api/v1/customers/{id}"), HttpStatusCode.OK);
        Assert.Equal(reference, fetched.GetProperty("reference").GetString());

        var changed = await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/customers/{id}", new { lastName = "Byron", status = "disabled" }), HttpStatusCode.OK);
        Assert.Equal("Byron", changed.GetProperty("lastName").GetString());
        Assert.Equal("Ada", changed.GetProperty("firstName").GetString());
        Assert.Equal("disabled", changed.GetProperty("status").GetString());

        var listed = await ExpectAsync(await api.GetAsync($"/api/v1/customers?q={reference.ToLowerInvariant()}"), HttpStatusCode.OK);
        Assert.Equal([id], listed.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetString()));

        await ExpectAsync(await api.DeleteAsync($"/api/v1/customers/{id}"), HttpStatusCode.NoContent);
        await ExpectAsync(await api.GetAsync($"/api/v1/customers/{id}"), HttpStatusCode.NotFound, "not_found");

        await using var scope = App.Scope(out var db);
        var actions = await db.AuditEvents.Where(a => a.TargetId == id).OrderBy(a => a.Id).Select(a => a.Action).ToListAsync();
        Assert.Equal(["customer.created", "customer.updated", "customer.deleted"], actions);
    }

    [Theory]
    [InlineData("has space", "ok@shop.test", "active", "reference")]
    [InlineData("", "ok@shop.test", "active", "reference")]
    [InlineData("valid-ref", "not-an-email", "active", "email")]
    [InlineData("valid-ref", "ok@shop.test", "locked", "status")]
    public async Task Bad_customer_input_gets_400_with_field_errors(string reference, string email, string status, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var problem = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers", new { reference, email, status }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task References_and_emails_are_unique_ignoring_case()
    {
        using var api = await Seed.AdminApiAsync(App);
        var customer = await CreateCustomerAsync(api);
        var reference = customer.GetProperty("reference").GetString()!;
        var email = customer.GetProperty("email").GetString()!;
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers", new { reference = reference.ToUpperInvariant(), email = "other." + email }), HttpStatusCode.Conflict, "reference_taken");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers", new { reference = reference + "x", email = email.ToUpperInvariant() }), HttpStatusCode.Conflict, "email_taken");
        var other = await CreateCustomerAsync(api);
        await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/customers/{other.GetProperty("id").GetString()}", new { email }), HttpStatusCode.Conflict, "email_taken");
    }

    [Fact]
    public async Task The_customer_list_pages_by_cursor_without_repeats()
    {
        using var api = await Seed.AdminApiAsync(App);
        var prefix = Seed.Unique("page");
        for (var i = 0; i < 5; i++)
        {
            await CreateCustomerAsync(api, $"{prefix}-{i}");
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await ExpectAsync(await api.GetAsync($"/api/v1/customers?q={prefix}&limit=2" + (cursor is null ? "" : $"&cursor={cursor}")), HttpStatusCode.OK);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("reference").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{prefix}-{i}"), seen);
        await ExpectAsync(await api.GetAsync("/api/v1/customers?cursor=%21%21"), HttpStatusCode.BadRequest, "invalid_cursor");
    }

    [Fact]
    public async Task Customers_need_MANAGE_CUSTOMERS()
    {
        var weak = await Seed.UserAsync(App, UserType.Api, "Weak-Client-Secret-1", "System");
        using var client = App.Client();
        using var api = Seed.WithBearer(App, await Seed.TokenAsync(client, weak.Username, "Weak-Client-Secret-1"));
        await ExpectAsync(await api.GetAsync("/api/v1/customers"), HttpStatusCode.Forbidden, "forbidden");
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new { customers = Array.Empty<object>() }), HttpStatusCode.Forbidden, "forbidden");
    }

    // ---- import ----

    [Fact]
    public async Task Import_creates_then_updates_by_reference_and_audits_one_event_per_call()
    {
        using var api = await Seed.AdminApiAsync(App);
        var prefix = Seed.Unique("imp");
        var rows = Enumerable.Range(0, 3).Select(i => new { reference = $"{prefix}-{i}", email = $"{prefix}-{i}@shop.test", firstName = "F" + i, lastName = "L" + i }).ToList();
        var first = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new { customers = rows }), HttpStatusCode.OK);
        Assert.Equal(3, first.GetProperty("created").GetInt32());
        Assert.Equal(0, first.GetProperty("updated").GetInt32());
        Assert.Empty(first.GetProperty("rejected").EnumerateArray());

        var second = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new
        {
            customers = new object[]
            {
                new { reference = $"{prefix}-0".ToUpperInvariant(), email = $"{prefix}-0@shop.test", firstName = "Changed", lastName = "L0", status = "disabled" },
                rows[1],
                rows[2],
                new { reference = $"{prefix}-3", email = $"{prefix}-3@shop.test", firstName = "F3", lastName = "L3" },
            },
        }), HttpStatusCode.OK);
        Assert.Equal(1, second.GetProperty("created").GetInt32());
        Assert.Equal(1, second.GetProperty("updated").GetInt32());
        Assert.Equal(2, second.GetProperty("unchanged").GetInt32());

        await using var scope = App.Scope(out var db);
        var stored = await db.Customers.Where(c => c.NormalizedReference.StartsWith(prefix.ToUpperInvariant())).OrderBy(c => c.NormalizedReference).ToListAsync();
        Assert.Equal(4, stored.Count);
        Assert.Equal("Changed", stored[0].FirstName);
        Assert.Equal("disabled", stored[0].Status);
        Assert.Equal($"{prefix}-0".ToUpperInvariant(), stored[0].Reference);
        Assert.Contains("CHANGED", stored[0].SearchText, StringComparison.Ordinal);
        var imports = await db.AuditEvents.Where(a => a.Action == "customer.imported" && a.Details!.Contains("\"rows\":4")).ToListAsync();
        Assert.Contains(imports, a => a.Details!.Contains("\"created\":1") && a.Details.Contains("\"updated\":1"));
    }

    [Fact]
    public async Task An_import_with_a_bad_row_writes_nothing_and_names_every_rejected_row()
    {
        using var api = await Seed.AdminApiAsync(App);
        var taken = await CreateCustomerAsync(api);
        var prefix = Seed.Unique("bad");
        var before = await CountAsync(prefix);
        var auditBefore = await AuditCountAsync();
        var problem = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new
        {
            customers = new object?[]
            {
                new { reference = $"{prefix}-ok", email = $"{prefix}-ok@shop.test" },
                new { reference = "no spaces please", email = $"{prefix}-1@shop.test" },
                new { reference = $"{prefix}-2", email = "not-an-email", status = "gone" },
                new { reference = $"{prefix}-OK", email = $"{prefix}-3@shop.test" },
                new { reference = $"{prefix}-4", email = taken.GetProperty("email").GetString() },
                null,
            },
        }), HttpStatusCode.BadRequest, "import_rejected");

        var rejected = problem.GetProperty("rejected").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3, 4, 5], rejected.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal("no spaces please", rejected[0].GetProperty("reference").GetString());
        Assert.Equal(2, rejected[1].GetProperty("reasons").GetArrayLength());
        Assert.Contains("earlier in the batch", rejected[2].GetProperty("reasons")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("Another customer", rejected[3].GetProperty("reasons")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await CountAsync(prefix));
        Assert.Equal(auditBefore, await AuditCountAsync());
    }

    [Fact]
    public async Task An_import_over_ten_thousand_rows_is_refused_and_ten_thousand_are_imported_in_one_go()
    {
        using var api = await Seed.AdminApiAsync(App);
        var prefix = Seed.Unique("big");
        var rows = Enumerable.Range(0, 10_001).Select(i => new { reference = $"{prefix}-{i:D5}", email = $"{prefix}-{i:D5}@shop.test", firstName = "Bulk", lastName = "Row" + i }).ToList();
        await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new { customers = rows }), HttpStatusCode.BadRequest, "import_too_large");
        Assert.Equal(0, await CountAsync(prefix));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new { customers = rows.Take(10_000) }), HttpStatusCode.OK);
        Assert.Equal(10_000, result.GetProperty("created").GetInt32());
        var again = await ExpectAsync(await api.PostAsJsonAsync("/api/v1/customers/import", new { customers = rows.Take(10_000) }), HttpStatusCode.OK);
        Assert.Equal(10_000, again.GetProperty("unchanged").GetInt32());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"two imports of 10,000 rows took {watch.Elapsed}");
        Assert.Equal(10_000, await CountAsync(prefix));
    }

    // ---- agents' scopes and search ----

    [Fact]
    public async Task Assigning_customers_is_for_BackOffice_users_and_audited()
    {
        using var api = await Seed.AdminApiAsync(App);
        var agent = await AgentAsync();
        var customer = await CreateCustomerAsync(api);
        var customerId = customer.GetProperty("id").GetGuid();

        var initial = await ExpectAsync(await api.GetAsync($"/api/v1/users/{agent.Id}/customers"), HttpStatusCode.OK);
        Assert.Equal("assigned", initial.GetProperty("scope").GetString());
        Assert.Empty(initial.GetProperty("customerIds").EnumerateArray());

        var changed = await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "assigned", customerIds = new[] { customerId } }), HttpStatusCode.OK);
        Assert.Equal([customerId], changed.GetProperty("customerIds").EnumerateArray().Select(c => c.GetGuid()));

        var apiUser = await Seed.UserAsync(App, UserType.Api, "Api-User-Secret-123456", "System");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{apiUser.Id}/customers", new { scope = "all" }), HttpStatusCode.Conflict, "not_a_backoffice_user");
        Guid reserved;
        await using (var scope = App.Scope(out var db))
        {
            reserved = await db.Users.Where(u => u.NormalizedUsername == Usernames.ReservedNormalized).Select(u => u.Id).SingleAsync();
            Assert.Equal(1, await db.AuditEvents.CountAsync(a => a.Action == "user.agent_customers_changed" && a.TargetId == agent.Id.ToString()));
        }

        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{reserved}/customers", new { scope = "all" }), HttpStatusCode.Conflict, "reserved_user");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "some" }), HttpStatusCode.BadRequest, "validation_failed");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "assigned", customerIds = new[] { Guid.NewGuid() } }), HttpStatusCode.BadRequest, "validation_failed");
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{Guid.NewGuid()}/customers", new { scope = "all" }), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task An_agent_searches_only_their_scope_by_email_name_or_reference()
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Seed.Unique("srch").Replace(".", "", StringComparison.Ordinal);
        var mine = await CreateCustomerAsync(api, $"{tag}-mine", email: $"mine.{tag}@shop.test", firstName: "Grace", lastName: "Hopper" + tag);
        var other = await CreateCustomerAsync(api, $"{tag}-other", email: $"other.{tag}@shop.test", firstName: "Alan", lastName: "Turing" + tag);
        var agent = await AgentAsync();
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "assigned", customerIds = new[] { mine.GetProperty("id").GetGuid() } }), HttpStatusCode.OK);

        using var asAgent = Seed.WithBearer(App, await AccessTokenOfAsync(agent));
        foreach (var q in new[] { tag, $"MINE.{tag}", "hopper" + tag.ToUpperInvariant(), $"{tag}-mi" })
        {
            var page = await ExpectAsync(await asAgent.GetAsync($"/api/v1/agent/customers?q={Uri.EscapeDataString(q)}"), HttpStatusCode.OK);
            Assert.Equal([$"{tag}-mine"], page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("reference").GetString()));
        }

        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "all", customerIds = Array.Empty<Guid>() }), HttpStatusCode.OK);
        var all = await ExpectAsync(await asAgent.GetAsync($"/api/v1/agent/customers?q={tag}"), HttpStatusCode.OK);
        Assert.Equal([$"{tag}-mine", $"{tag}-other"], all.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("reference").GetString()));
        Assert.NotNull(other.GetProperty("id").GetString());

        // API users are never agents, even with AGENT_ASSIST (the bootstrap API user holds every privilege).
        await ExpectAsync(await api.GetAsync($"/api/v1/agent/customers?q={tag}"), HttpStatusCode.Forbidden, "not_an_agent");
        using var noAgent = Seed.WithBearer(App, await AccessTokenOfAsync(await Seed.UserAsync(App, UserType.BackOffice, Password)));
        await ExpectAsync(await noAgent.GetAsync("/api/v1/agent/customers"), HttpStatusCode.Forbidden, "forbidden");
    }

    // ---- impersonation ----

    [Fact]
    public async Task Starting_impersonation_issues_a_storefront_token_naming_the_agent_and_records_the_session()
    {
        using var api = await Seed.AdminApiAsync(App);
        var customer = await CreateCustomerAsync(api);
        var agent = await AgentAsync();
        await AssignAsync(api, agent, customer);

        var outcome = await StartAsync(agent.Id, customer.GetProperty("reference").GetString()!.ToUpperInvariant(), "Customer called about order 42");
        Assert.True(outcome.Succeeded, outcome.Failure?.ToString());
        var jwt = new JwtSecurityTokenHandler().ReadJwtToken(outcome.Value!.AccessToken);
        Assert.Equal("at+jwt", jwt.Header.Typ);
        Assert.Equal("ES256", jwt.Header.Alg);
        Assert.Equal(customer.GetProperty("id").GetString(), jwt.Subject);
        Assert.Equal(customer.GetProperty("reference").GetString(), jwt.Claims.Single(c => c.Type == "customer_reference").Value);
        Assert.Equal(["storefront"], jwt.Audiences);
        Assert.StartsWith(App.BaseUrl, jwt.Issuer, StringComparison.Ordinal);
        var act = JsonDocument.Parse(jwt.Claims.Single(c => c.Type == "act").Value).RootElement;
        Assert.Equal(agent.Id.ToString(), act.GetProperty("sub").GetString());
        Assert.Equal(agent.Username, act.GetProperty("preferred_username").GetString());
        Assert.InRange(jwt.ValidTo - jwt.IssuedAt, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10.1));
        Assert.InRange(outcome.Value.ExpiresIn, 590, 600);

        // The storefront token opens no back-office door.
        using var impersonating = Seed.WithBearer(App, outcome.Value.AccessToken);
        await ExpectAsync(await impersonating.GetAsync("/api/v1/me"), HttpStatusCode.Unauthorized, "unauthorized");
        await ExpectAsync(await impersonating.GetAsync("/api/v1/agent/customers"), HttpStatusCode.Unauthorized, "unauthorized");

        await using var scope = App.Scope(out var db);
        var session = await db.AgentSessions.SingleAsync(s => s.TokenId == jwt.Id);
        Assert.Equal(agent.Id, session.AgentId);
        Assert.Equal("Customer called about order 42", session.Reason);
        var audit = await db.AuditEvents.SingleAsync(a => a.Action == "agent.impersonation_started" && a.Details!.Contains(jwt.Id));
        Assert.Equal(agent.Id, audit.ActorId);
        Assert.Equal(agent.Username, audit.ActorName);
        Assert.Equal(customer.GetProperty("id").GetString(), audit.TargetId);
        Assert.Contains("Customer called about order 42", audit.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Impersonation_is_refused_outside_scope_for_disabled_customers_non_agents_and_without_reason()
    {
        using var api = await Seed.AdminApiAsync(App);
        var assigned = await CreateCustomerAsync(api);
        var unassigned = await CreateCustomerAsync(api);
        var disabled = await CreateCustomerAsync(api, status: "disabled");
        var agent = await AgentAsync();
        await AssignAsync(api, agent, assigned, disabled);
        var notAgent = await Seed.UserAsync(App, UserType.BackOffice, Password);
        await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{notAgent.Id}/customers", new { scope = "all" }), HttpStatusCode.OK);
        var apiAgent = await Seed.UserAsync(App, UserType.Api, "Api-User-Secret-123456", "System", "Administrator");

        var cases = new (Guid Agent, string Reference, string? Reason, string Code)[]
        {
            (agent.Id, Ref(unassigned), "help", "customer_not_in_scope"),
            (agent.Id, "no-such-customer", "help", "customer_not_in_scope"),
            (agent.Id, Ref(disabled), "help", "customer_disabled"),
            (agent.Id, Ref(assigned), "  ", "reason_required"),
            (agent.Id, Ref(assigned), null, "reason_required"),
            (notAgent.Id, Ref(assigned), "help", "not_an_agent"),
            (apiAgent.Id, Ref(assigned), "help", "not_an_agent"),
        };
        foreach (var (who, reference, reason, code) in cases)
        {
            var outcome = await StartAsync(who, reference, reason);
            Assert.False(outcome.Succeeded, $"{reference} {reason}");
            Assert.Equal(Core.Common.FailureKind.Forbidden, outcome.Failure!.Kind);
            Assert.Equal(code, outcome.Failure.Code);
        }

        await using var scope = App.Scope(out var db);
        Assert.False(await db.AgentSessions.AnyAsync(s => s.AgentId == agent.Id || s.AgentId == notAgent.Id || s.AgentId == apiAgent.Id));
        Assert.Equal(cases.Length, await db.AuditEvents.CountAsync(a => a.Action == "agent.impersonation_refused"
            && (a.ActorId == agent.Id || a.ActorId == notAgent.Id || a.ActorId == apiAgent.Id)));
    }

    [Fact]
    public async Task Token_exchange_at_the_token_endpoint_issues_the_storefront_token()
    {
        using var api = await Seed.AdminApiAsync(App);
        var customer = await CreateCustomerAsync(api);
        var agent = await AgentAsync();
        await AssignAsync(api, agent, customer);
        using var client = App.Client();

        var response = await ExchangeAsync(client, Ref(customer), await AccessTokenOfAsync(agent), "Checkout fails for the customer");
        var body = await ExpectAsync(response, HttpStatusCode.OK);
        Assert.Equal(AccessTokenType, body.GetProperty("issued_token_type").GetString());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.InRange(body.GetProperty("expires_in").GetInt32(), 590, 600);
        Assert.False(body.TryGetProperty("refresh_token", out _));
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());

        var jwt = new JwtSecurityTokenHandler().ReadJwtToken(body.GetProperty("access_token").GetString());
        Assert.Equal(customer.GetProperty("id").GetString(), jwt.Subject);
        Assert.Equal(["storefront"], jwt.Audiences);
        var act = JsonDocument.Parse(jwt.Claims.Single(c => c.Type == "act").Value).RootElement;
        Assert.Equal(agent.Id.ToString(), act.GetProperty("sub").GetString());
        Assert.Equal(agent.Username, act.GetProperty("preferred_username").GetString());

        using var impersonating = Seed.WithBearer(App, body.GetProperty("access_token").GetString()!);
        await ExpectAsync(await impersonating.GetAsync("/api/v1/me"), HttpStatusCode.Unauthorized, "unauthorized");

        await using var scope = App.Scope(out var db);
        Assert.True(await db.AgentSessions.AnyAsync(s => s.TokenId == jwt.Id && s.AgentId == agent.Id && s.Reason == "Checkout fails for the customer"));

        var discovery = JsonDocument.Parse(await client.GetStringAsync("/.well-known/openid-configuration")).RootElement;
        Assert.Contains(ExchangeGrant, discovery.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));
    }

    [Fact]
    public async Task Token_exchange_refuses_with_OAuth_errors()
    {
        using var api = await Seed.AdminApiAsync(App);
        var customer = await CreateCustomerAsync(api);
        var unassigned = await CreateCustomerAsync(api);
        var agent = await AgentAsync();
        await AssignAsync(api, agent, customer);
        var actor = await AccessTokenOfAsync(agent);
        using var client = App.Client();
        var apiToken = await Seed.TokenAsync(client, TesseraApp.ApiClientId, TesseraApp.ApiClientSecret);
        var notAgentToken = await AccessTokenOfAsync(await Seed.UserAsync(App, UserType.BackOffice, Password));

        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(unassigned), actor, "help"), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor, null), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), apiToken, "help"), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), notAgentToken, "help"), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), "not-a-token", "help"), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor[..^4] + "AAAA", "help"), "invalid_grant");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor, "help", subjectTokenType: AccessTokenType), "invalid_request");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor, "help", clientId: TesseraApp.ApiClientId), "invalid_client");
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor, "help", clientSecret: "a-secret"), "invalid_client");

        // An impersonation token is no actor token: it is for the storefront, not for Tessera.
        var storefront = (await StartAsync(agent.Id, Ref(customer), "help")).Value!.AccessToken;
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), storefront, "help"), "invalid_grant");

        // The agent's token stops working as an actor token as soon as the agent is disabled.
        await ExpectAsync(await ExchangeAsync(client, Ref(customer), actor, "help"), HttpStatusCode.OK);
        await ExpectAsync(await api.PatchAsJsonAsync($"/api/v1/users/{agent.Id}", new { status = "disabled" }), HttpStatusCode.OK);
        await ExpectOAuthErrorAsync(await ExchangeAsync(client, Ref(customer), actor, "help"), "invalid_grant");
    }

    [Fact]
    public async Task Sessions_are_listed_newest_first_by_cursor_for_VIEW_AUDIT_LOG()
    {
        using var api = await Seed.AdminApiAsync(App);
        var customer = await CreateCustomerAsync(api);
        var agent = await AgentAsync();
        await AssignAsync(api, agent, customer);
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await StartAsync(agent.Id, Ref(customer), $"reason {i}")).Succeeded);
        }

        var reasons = new List<string>();
        string? cursor = null;
        do
        {
            var page = await ExpectAsync(await api.GetAsync($"/api/v1/agent/sessions?agentId={agent.Id}&limit=2" + (cursor is null ? "" : $"&cursor={cursor}")), HttpStatusCode.OK);
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                reasons.Add(item.GetProperty("reason").GetString()!);
                Assert.Equal(agent.Username, item.GetProperty("agentUsername").GetString());
                Assert.Equal(Ref(customer), item.GetProperty("customerReference").GetString());
            }

            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(["reason 2", "reason 1", "reason 0"], reasons);

        using var asAgent = Seed.WithBearer(App, await AccessTokenOfAsync(agent));
        await ExpectAsync(await asAgent.GetAsync("/api/v1/agent/sessions"), HttpStatusCode.Forbidden, "forbidden");
    }

    // ---- helpers ----

    private static string Ref(JsonElement customer) => customer.GetProperty("reference").GetString()!;

    private async Task<Core.Common.Outcome<ImpersonationToken>> StartAsync(Guid agentId, string reference, string? reason)
    {
        await using var scope = App.Scope(out _);
        return await scope.ServiceProvider.GetRequiredService<ImpersonationService>().StartAsync(agentId, reference, reason, CancellationToken.None);
    }

    /// <summary>A BackOffice user holding AGENT_ASSIST through a role of that one privilege.</summary>
    private async Task<User> AgentAsync()
    {
        await using (var scope = App.Scope(out var db))
        {
            if (!await db.Roles.AnyAsync(r => r.NormalizedName == "AGENT"))
            {
                using var api = await Seed.AdminApiAsync(App);
                var response = await api.PostAsJsonAsync("/api/v1/roles", new { name = "Agent", privileges = new[] { "AGENT_ASSIST" } });
                Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Conflict, await response.Content.ReadAsStringAsync());
            }
        }

        return await Seed.UserAsync(App, UserType.BackOffice, Password, "Agent");
    }

    /// <summary>The BackOffice user's own access token, through the authorization code flow of a registered public client.</summary>
    private Task<string> AccessTokenOfAsync(User user) => AuthorizationCodeClient.TokenForAsync(App, user.Username, Password);

    private static async Task AssignAsync(HttpClient api, User agent, params JsonElement[] customers)
        => await ExpectAsync(await api.PutAsJsonAsync($"/api/v1/users/{agent.Id}/customers", new { scope = "assigned", customerIds = customers.Select(c => c.GetProperty("id").GetGuid()) }), HttpStatusCode.OK);

    private static async Task<HttpResponseMessage> ExchangeAsync(HttpClient client, string reference, string actorToken, string? reason,
        string subjectTokenType = ReferenceType, string clientId = "agent-assist", string? clientSecret = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = ExchangeGrant,
            ["client_id"] = clientId,
            ["subject_token"] = reference,
            ["subject_token_type"] = subjectTokenType,
            ["actor_token"] = actorToken,
            ["actor_token_type"] = AccessTokenType,
        };
        if (reason is not null)
        {
            form["reason"] = reason;
        }

        if (clientSecret is not null)
        {
            form["client_secret"] = clientSecret;
        }

        return await client.PostAsync("/connect/token", new FormUrlEncodedContent(form));
    }

    private static async Task ExpectOAuthErrorAsync(HttpResponseMessage response, string error)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"{(int)response.StatusCode} {body}");
        var json = JsonDocument.Parse(body).RootElement;
        Assert.True(json.GetProperty("error").GetString() == error, body);
        Assert.False(json.TryGetProperty("access_token", out _));
    }

    private async Task<JsonElement> CreateCustomerAsync(HttpClient api, string? reference = null, string? email = null, string? firstName = "Test", string? lastName = "Customer", string? status = null)
    {
        reference ??= Seed.Unique("cust");
        var response = await api.PostAsJsonAsync("/api/v1/customers", new { reference, email = email ?? $"{reference}@shop.test", firstName, lastName, status });
        return await ExpectAsync(response, HttpStatusCode.Created);
    }

    private async Task<int> CountAsync(string prefix)
    {
        await using var scope = App.Scope(out var db);
        var normalized = prefix.ToUpperInvariant();
        return await db.Customers.CountAsync(c => c.NormalizedReference.StartsWith(normalized));
    }

    private async Task<int> AuditCountAsync()
    {
        await App.AuditWrittenAsync();
        await using var scope = App.Scope(out var db);
        return await db.AuditEvents.CountAsync();
    }

    private static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status, string? code = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        var json = body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        if (code is not null)
        {
            Assert.Equal(code, json.GetProperty("code").GetString());
        }

        return json;
    }
}
