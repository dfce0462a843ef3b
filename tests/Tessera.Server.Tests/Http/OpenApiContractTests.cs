using System.Net.Http.Json;
using System.Text.Json;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Http;

/// <summary>The OpenAPI document says truthfully which request members are required, and describes every query parameter.</summary>
public sealed class OpenApiContractTests(SqliteHost host) : IClassFixture<SqliteHost>
{
    private async Task<JsonElement> DocumentAsync()
    {
        using var client = host.App.Client();
        return await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
    }

    private static string[] Required(JsonElement document, string schema)
    {
        var found = document.GetProperty("components").GetProperty("schemas").GetProperty(schema);
        return found.TryGetProperty("required", out var required) ? [.. required.EnumerateArray().Select(r => r.GetString()!).Order(StringComparer.Ordinal)] : [];
    }

    [Theory]
    [InlineData("CreateUserRequest", new[] { "email", "type", "username" })]
    [InlineData("UpdateUserRequest", new string[0])]
    [InlineData("ChangeRolesRequest", new[] { "roles" })]
    [InlineData("RoleRequest", new string[0])]
    [InlineData("RuleDto", new[] { "action", "effect", "resource" })]
    [InlineData("PasswordRequest", new[] { "newPassword" })]
    [InlineData("ResetPasswordRequest", new[] { "newPassword", "token" })]
    [InlineData("UpdateCustomerRequest", new string[0])]
    [InlineData("PasswordPolicy", new string[0])]
    [InlineData("RoleDocument", new[] { "roles" })]
    [InlineData("GroupMembersRequest", new[] { "userIds" })]
    [InlineData("CreateAccessReviewRequest", new[] { "dueAt", "name", "reviewers", "scope" })]
    [InlineData("AccessReviewDecisionsRequest", new[] { "items" })]
    [InlineData("AccessReviewDecision", new[] { "decision", "id" })]
    [InlineData("SodConstraintRequest", new[] { "name", "roles" })]
    [InlineData("CreateWebhookRequest", new[] { "eventTypes", "url" })]
    [InlineData("UpdateWebhookRequest", new[] { "enabled", "eventTypes", "url" })]
    public async Task Request_schemas_require_what_the_service_refuses_without(string schema, string[] required)
    {
        var document = await DocumentAsync();

        Assert.Equal(required, Required(document, schema));
    }

    [Theory]
    [InlineData("ChangeRolesRequest", "roles", "name")]
    [InlineData("CreateUserRequest", "roles", "name")]
    [InlineData("GroupMembersRequest", "userIds", "id")]
    [InlineData("GroupRequest", "userIds", "id")]
    public async Task An_assignment_is_a_string_or_an_object_with_a_validity(string schema, string list, string key)
    {
        var found = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty(schema)
            .GetProperty("properties").GetProperty(list).GetProperty("items");

        var choices = found.GetProperty("oneOf").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        Assert.Equal("string", choices[0].GetProperty("type").GetString());
        Assert.Equal("object", choices[1].GetProperty("type").GetString());
        Assert.Equal([key, "validFrom", "validUntil"], choices[1].GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Equal([key], choices[1].GetProperty("required").EnumerateArray().Select(r => r.GetString()));
    }

    [Theory]
    [InlineData("UserResponse", new[] { "roleAssignments", "groupMemberships" })]
    [InlineData("AssignmentResponse", new[] { "name", "validFrom", "validUntil", "state" })]
    [InlineData("GroupMemberResponse", new[] { "validFrom", "validUntil", "state" })]
    public async Task Answers_show_the_validity_of_assignments(string schema, string[] members)
    {
        var properties = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties");

        Assert.All(members, m => Assert.True(properties.TryGetProperty(m, out _), $"{schema} lacks {m}: {properties}"));
    }

    [Theory]
    [InlineData("/api/v1/sod-constraints", new[] { "get", "post" })]
    [InlineData("/api/v1/sod-constraints/{id}", new[] { "get", "put", "delete" })]
    [InlineData("/api/v1/access-report", new[] { "get" })]
    public async Task The_governance_paths_are_documented(string path, string[] methods)
    {
        var operations = (await DocumentAsync()).GetProperty("paths").GetProperty(path);
        Assert.All(methods, m => Assert.True(operations.TryGetProperty(m, out _), $"{m} {path}: {operations}"));
    }

    [Theory]
    [InlineData("/api/v1/roles/{id}/holders", "get")]
    [InlineData("/api/v1/customers/{id}/agents", "get")]
    [InlineData("/api/v1/resources", "put")]
    public async Task The_catalog_paths_are_documented(string path, string method)
        => Assert.True((await DocumentAsync()).GetProperty("paths").GetProperty(path).TryGetProperty(method, out _), path);

    [Theory]
    [InlineData("ResourceCatalog", new[] { "resources", "version" })]
    [InlineData("RoleHolder", new[] { "userId", "username", "type", "via", "groupId", "group", "validFrom", "validUntil", "state" })]
    [InlineData("CustomerAgent", new[] { "userId", "username", "via" })]
    public async Task The_catalog_answers_show_their_members(string schema, string[] members)
    {
        var properties = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties");

        Assert.All(members, m => Assert.True(properties.TryGetProperty(m, out _), $"{schema} lacks {m}: {properties}"));
    }

    [Theory]
    [InlineData("/api/v1/webhooks", "get", new[] { "200", "400" })]
    [InlineData("/api/v1/webhooks", "post", new[] { "201", "400" })]
    [InlineData("/api/v1/webhooks/{id}", "get", new[] { "200", "404" })]
    [InlineData("/api/v1/webhooks/{id}", "put", new[] { "200", "400", "404" })]
    [InlineData("/api/v1/webhooks/{id}", "delete", new[] { "204", "404" })]
    [InlineData("/api/v1/webhooks/{id}/deliveries", "get", new[] { "200", "400", "404" })]
    public async Task The_webhook_paths_are_documented_with_their_answers_and_problems(string path, string method, string[] statuses)
    {
        var operation = (await DocumentAsync()).GetProperty("paths").GetProperty(path).GetProperty(method);
        Assert.True(operation.TryGetProperty("summary", out var summary) && !string.IsNullOrWhiteSpace(summary.GetString()), operation.ToString());
        var responses = operation.GetProperty("responses");
        Assert.All(statuses, s => Assert.True(responses.TryGetProperty(s, out _), $"{method} {path} lacks {s}: {responses}"));
        foreach (var problem in statuses.Where(s => s[0] == '4'))
        {
            Assert.True(responses.GetProperty(problem).GetProperty("content").TryGetProperty("application/problem+json", out _), $"{method} {path} {problem}: {responses}");
        }
    }

    [Theory]
    [InlineData("WebhookResponse", new[] { "id", "url", "description", "eventTypes", "enabled", "disabledReason", "failingSince", "createdAt", "updatedAt", "secret" })]
    [InlineData("WebhookDeliveryResponse", new[] { "id", "eventType", "auditEventId", "status", "attempts", "createdAt", "lastAttemptAt", "nextAttemptAt", "deliveredAt", "lastStatusCode", "lastError" })]
    [InlineData("WebhookDeliveryPage", new[] { "items", "nextCursor" })]
    public async Task The_webhook_answers_show_their_members(string schema, string[] members)
    {
        var properties = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties");

        Assert.All(members, m => Assert.True(properties.TryGetProperty(m, out _), $"{schema} lacks {m}: {properties}"));
    }

    [Fact]
    public async Task The_policy_schema_shows_the_least_strength()
    {
        var policy = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty("PasswordPolicy");

        Assert.True(policy.GetProperty("properties").TryGetProperty("minStrength", out _), policy.ToString());
    }

    [Theory]
    [InlineData("/api/v1/users", new[] { "id", "username", "firstName", "lastName", "email", "role", "group", "type", "status", "q", "expiring", "sort", "limit", "cursor", "includeTotal" })]
    [InlineData("/api/v1/customers", new[] { "q", "status", "limit", "cursor" })]
    [InlineData("/api/v1/audit-events", new[] { "actor", "action", "target", "from", "to", "limit", "cursor" })]
    [InlineData("/api/v1/roles/export", new[] { "names" })]
    [InlineData("/api/v1/access-reviews", new[] { "mine" })]
    [InlineData("/api/v1/access-reviews/{id}/items", new[] { "decision", "limit", "cursor" })]
    [InlineData("/api/v1/access-reviews/{id}/report", new[] { "format" })]
    [InlineData("/api/v1/change-requests", new[] { "status", "limit", "cursor" })]
    [InlineData("/api/v1/access-report", new[] { "format", "type", "includeExpired" })]
    [InlineData("/api/v1/audit-events/export", new[] { "actor", "action", "target", "from", "to" })]
    [InlineData("/api/v1/roles/{id}/holders", new[] { "limit", "cursor" })]
    [InlineData("/api/v1/webhooks", new[] { "limit", "cursor" })]
    [InlineData("/api/v1/webhooks/{id}/deliveries", new[] { "status", "limit", "cursor" })]
    public async Task Every_query_parameter_of_a_list_is_described(string path, string[] names)
    {
        var operation = (await DocumentAsync()).GetProperty("paths").GetProperty(path).GetProperty("get");
        var parameters = operation.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").ToList();

        // Query names bind ignoring case; an [AsParameters] record's appear as its members are spelled.
        Assert.Equal(names.Order(StringComparer.OrdinalIgnoreCase), parameters.Select(p => p.GetProperty("name").GetString()!).Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parameters)
        {
            Assert.True(parameter.TryGetProperty("description", out var description) && !string.IsNullOrWhiteSpace(description.GetString()), $"{path}: {parameter}");
        }
    }

    [Theory]
    [InlineData("/api/v1/users/{id}/roles", "put")]
    [InlineData("/api/v1/users/{id}", "delete")]
    [InlineData("/api/v1/groups/{id}/members", "put")]
    [InlineData("/api/v1/roles", "post")]
    [InlineData("/api/v1/password-policy", "put")]
    [InlineData("/api/v1/mfa-policy", "put")]
    [InlineData("/api/v1/approval-policy", "put")]
    public async Task A_change_the_approval_policy_can_defer_documents_its_202(string path, string method)
    {
        var operation = (await DocumentAsync()).GetProperty("paths").GetProperty(path).GetProperty(method);

        Assert.True(operation.GetProperty("responses").TryGetProperty("202", out var accepted), operation.ToString());
        Assert.Contains("change-requests", accepted.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/change-requests/{id}/approve")]
    [InlineData("/api/v1/change-requests/{id}/reject")]
    [InlineData("/api/v1/change-requests/{id}/withdraw")]
    public async Task The_change_request_decisions_are_in_the_document(string path)
        => Assert.True((await DocumentAsync()).GetProperty("paths").GetProperty(path).TryGetProperty("post", out _));

    [Fact]
    public async Task The_bulk_users_action_and_the_page_members_are_in_the_document()
    {
        var document = await DocumentAsync();
        var bulk = document.GetProperty("paths").GetProperty("/api/v1/users/bulk").GetProperty("post");
        Assert.True(bulk.TryGetProperty("requestBody", out _), bulk.ToString());
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.Equal(["action", "userIds"], schemas.GetProperty("BulkUsersRequest").GetProperty("required").EnumerateArray().Select(r => r.GetString()).Order(StringComparer.Ordinal));
        Assert.True(schemas.GetProperty("BulkUsersResponse").GetProperty("properties").TryGetProperty("results", out _));
        var page = schemas.GetProperty("UserPage").GetProperty("properties");
        foreach (var member in new[] { "items", "nextCursor", "previousCursor", "total", "totalExact" })
        {
            Assert.True(page.TryGetProperty(member, out _), $"UserPage lacks {member}: {page}");
        }
    }

    [Fact]
    public async Task Every_query_parameter_of_the_API_is_described()
    {
        var undescribed = new List<string>();
        foreach (var path in (await DocumentAsync()).GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/api/", StringComparison.Ordinal)))
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Value.ValueKind == JsonValueKind.Object && o.Value.TryGetProperty("parameters", out _)))
            {
                foreach (var parameter in operation.Value.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query"))
                {
                    if (!parameter.TryGetProperty("description", out var description) || string.IsNullOrWhiteSpace(description.GetString()))
                    {
                        undescribed.Add($"{operation.Name.ToUpperInvariant()} {path.Name}?{parameter.GetProperty("name").GetString()}");
                    }
                }
            }
        }

        Assert.True(undescribed.Count == 0, "Query parameters without a description: " + string.Join(", ", undescribed));
    }

    [Theory]
    [InlineData("/api/v1/overview", new[] { "get" })]
    [InlineData("/api/v1/me/preferences", new[] { "get", "put" })]
    [InlineData("/api/v1/audit-events/export", new[] { "get" })]
    public async Task The_daily_work_paths_are_documented(string path, string[] methods)
    {
        var operations = (await DocumentAsync()).GetProperty("paths").GetProperty(path);
        Assert.All(methods, m => Assert.True(operations.TryGetProperty(m, out _), $"{m} {path}: {operations}"));
    }

    [Theory]
    [InlineData("ForgotPasswordRequest", new[] { "email", "login" })]
    [InlineData("PreferencesRequest", new[] { "language", "timeZone" })]
    public async Task The_daily_work_requests_show_their_members(string schema, string[] members)
    {
        var properties = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties");

        Assert.Equal(members.Order(StringComparer.Ordinal), properties.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }
}
