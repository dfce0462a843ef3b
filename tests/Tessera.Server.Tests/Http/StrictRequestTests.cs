using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.SignIn;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Http;

public sealed class SqliteStrictRequestTests(SqliteHost host) : StrictRequestTests<SqliteHost>(host);

public sealed class PostgresStrictRequestTests(PostgresHost host) : StrictRequestTests<PostgresHost>(host);

/// <summary>
/// What Tessera does not understand it refuses, with a 400 that names it: unknown and repeated members, null list
/// elements, control characters, cursors it never handed out. Nothing of it is stored, and nothing is a 500.
/// </summary>
public abstract class StrictRequestTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static void HasErrors(JsonElement problem, params string[] fields)
    {
        Assert.True(problem.TryGetProperty("errors", out var errors), problem.ToString());
        foreach (var field in fields)
        {
            Assert.True(errors.TryGetProperty(field, out _), $"no errors[\"{field}\"] in {problem}");
        }
    }

    private async Task<bool> RoleExistsAsync(string name)
    {
        await using var scope = App.Scope(out var db);
        return await db.Roles.AnyAsync(r => r.NormalizedName == name.ToUpperInvariant());
    }

    [Fact]
    public async Task Misspelled_members_get_400_unknown_field_naming_every_one_and_nothing_is_created()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("strict");
        var response = await api.PostAsync("/api/v1/roles", Json($$"""
            {"name":"{{name}}","permissions":[{"resource":"orders","action":"read","effect":"allow"}],"privilege":"VIEW_USERS",
             "rules":[{"resource":"orders","action":"read","efect":"allow"}]}
            """));
        var problem = await Expect.ProblemAsync(response, HttpStatusCode.BadRequest, "unknown_field");
        HasErrors(problem, "permissions", "privilege", "rules[0].efect");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("'permissions'", detail, StringComparison.Ordinal);
        Assert.Contains("'privilege'", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Tessera.", detail, StringComparison.Ordinal);
        Assert.False(await RoleExistsAsync(name));

        problem = await Expect.ProblemAsync(await api.PostAsync("/api/v1/roles/import", Json("""{"rolez":[]}""")), HttpStatusCode.BadRequest, "unknown_field");
        HasErrors(problem, "rolez");
    }

    [Fact]
    public async Task Members_are_matched_in_any_case_and_named_in_camelCase()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("strict");
        var problem = await Expect.ProblemAsync(await api.PostAsync("/api/v1/roles", Json($$"""{"Name":"{{name}}","Privileges":[null]}""")), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, "privileges[0]");
        Assert.False(await RoleExistsAsync(name));
    }

    [Theory]
    [InlineData("""{"name":"a-{0}","name":"b-{0}"}""", "name")]
    [InlineData("""{"name":"a-{0}","Name":"b-{0}"}""", "Name")]
    [InlineData("""{"name":"a-{0}","rules":[{"resource":"orders","action":"read","action":"write","effect":"allow"}]}""", "rules[0].action")]
    public async Task A_member_given_twice_gets_400_duplicate_field_naming_it(string template, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Seed.Unique("dup");
        var problem = await Expect.ProblemAsync(await api.PostAsync("/api/v1/roles", Json(template.Replace("{0}", tag, StringComparison.Ordinal))), HttpStatusCode.BadRequest, "duplicate_field");
        HasErrors(problem, field);
        Assert.Contains($"'{field}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.False(await RoleExistsAsync("a-" + tag));
        Assert.False(await RoleExistsAsync("b-" + tag));
    }

    public static TheoryData<string, string, string, string> NullElements() => new()
    {
        { "POST", "/api/v1/roles", """{"name":"n-{0}","privileges":[null]}""", "privileges[0]" },
        { "POST", "/api/v1/roles", """{"name":"n-{0}","rules":[null]}""", "rules[0]" },
        { "PUT", "/api/v1/roles/{id}", """{"name":"n-{0}","privileges":["VIEW_USERS",null]}""", "privileges[1]" },
        { "POST", "/api/v1/roles/import", """{"roles":[null]}""", "roles[0]" },
        { "POST", "/api/v1/roles/import", """{"roles":[{"name":"n-{0}","rules":[null]}]}""", "roles[0].rules[0]" },
        { "PUT", "/api/v1/resources", """{"resources":[null]}""", "resources[0]" },
        { "PUT", "/api/v1/resources", """{"resources":[{"name":"orders","actions":[null]}]}""", "resources[0].actions[0]" },
        { "POST", "/api/v1/users", """{"username":"n-{0}","email":"n-{0}@example.com","type":"api","roles":[null],"groups":[null]}""", "groups[0]" },
        { "PUT", "/api/v1/users/{id}/roles", """{"roles":[null]}""", "roles[0]" },
        { "POST", "/api/v1/groups", """{"name":"n-{0}","roles":[null],"userIds":[null]}""", "userIds[0]" },
        { "PUT", "/api/v1/groups/{id}/roles", """{"roles":[null]}""", "roles[0]" },
        { "PUT", "/api/v1/groups/{id}/members", """{"userIds":[null]}""", "userIds[0]" },
        { "PUT", "/api/v1/users/{id}/customers", """{"scope":"assigned","customerIds":[null]}""", "customerIds[0]" },
    };

    [Theory]
    [MemberData(nameof(NullElements))]
    public async Task A_null_list_element_gets_400_validation_failed_keyed_by_its_position(string method, string path, string template, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Seed.Unique("null");
        var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal))
        {
            Content = Json(template.Replace("{0}", tag, StringComparison.Ordinal)),
        };
        var problem = await Expect.ProblemAsync(await api.SendAsync(request), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, field);
        Assert.False(await RoleExistsAsync("n-" + tag));
    }

    [Theory]
    [InlineData("firstName", "Ann\r\nBcc: victim@example.com")]
    [InlineData("lastName", "Null\0Byte")]
    [InlineData("username", "tab\tname")]
    [InlineData("email", "bell\u0007@example.com")]
    [InlineData("firstName", "C1\u0085control")]
    [InlineData("lastName", "del\u007f")]
    public async Task A_control_character_in_a_JSON_string_gets_400_with_the_field(string field, string value)
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("ctl");
        var body = new Dictionary<string, object?>
        {
            ["username"] = username, ["email"] = $"{username}@example.com", ["firstName"] = "Ann", ["lastName"] = "Lee", ["type"] = "backoffice",
            [field] = value,
        };
        var problem = await Expect.ProblemAsync(await api.PostAsJsonAsync("/api/v1/users", body), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, field);
        await using var scope = App.Scope(out var db);
        Assert.False(await db.Users.AnyAsync(u => u.NormalizedEmail == $"{username}@example.com".ToUpperInvariant()));
    }

    [Fact]
    public async Task A_description_may_span_lines_but_holds_no_other_control_character()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("multi");
        var created = await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name, description = "First line\r\n\tSecond line" }), HttpStatusCode.Created);
        Assert.Equal("First line\r\n\tSecond line", created.GetProperty("description").GetString());

        var other = Seed.Unique("multi");
        var problem = await Expect.ProblemAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = other, description = "nul\0" }), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, "description");
        problem = await Expect.ProblemAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = other + "\n", description = "ok" }), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, "name");
        Assert.False(await RoleExistsAsync(other));
    }

    [Fact]
    public async Task Text_that_is_not_valid_Unicode_gets_400_with_the_field()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("sur");
        var problem = await Expect.ProblemAsync(await api.PostAsync("/api/v1/users", Json($$"""{"username":"{{username}}","email":"{{username}}@example.com","firstName":"\ud800","lastName":"x","type":"backoffice"}""")),
            HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, "firstName");
    }

    [Theory]
    [InlineData("/api/v1/users?q=ab%00c", "q")]
    [InlineData("/api/v1/users?username=a%0Db", "username")]
    [InlineData("/api/v1/users?lastName=%0A", "lastName")]
    [InlineData("/api/v1/customers?q=x%09y", "q")]
    [InlineData("/api/v1/audit-events?actor=admin%00", "actor")]
    [InlineData("/api/v1/roles/export?names=Administrator%1B", "names")]
    public async Task A_control_character_in_the_query_string_gets_400_with_the_parameter(string url, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var problem = await Expect.ProblemAsync(await api.GetAsync(url), HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, field);
    }

    [Fact]
    public async Task Without_a_token_a_hostile_request_gets_401_before_its_content_is_judged()
    {
        using var anonymous = App.Client();
        var response = await anonymous.PostAsync("/api/v1/roles?x=%00", Json("""{"name":"a","name":"b","bogus":1}"""));
        await Expect.ProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_gets_400_naming_the_member_without_NET_type_names()
    {
        using var api = await Seed.AdminApiAsync(App);
        var problem = await Expect.ProblemAsync(await api.PostAsync("/api/v1/roles", Json("""{"name":5}""")), HttpStatusCode.BadRequest, "invalid_request");
        HasErrors(problem, "name");
        Assert.DoesNotContain("System.", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/api/v1/roles", "text/plain", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("PUT", "/api/v1/resources", "application/xml", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("PUT", "/api/v1/users/01a23add-bd6c-70a8-a458-f2007e335917/roles", "multipart/form-data; boundary=x", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("POST", "/api/v1/groups", "application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("POST", "/api/v1/nowhere", "application/json", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "/api/v1/nowhere", null, HttpStatusCode.NotFound, "not_found")]
    public async Task A_body_of_another_type_is_415_and_an_unknown_path_404(string method, string path, string? contentType, HttpStatusCode status, string code)
    {
        using var api = await Seed.AdminApiAsync(App);
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (contentType is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"name":"x"}"""));
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        await Expect.ProblemAsync(await api.SendAsync(request), status, code);
    }

    private static string Cursor(params string[] parts) => WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(parts));

    public static TheoryData<string> BadCursors() => new()
    {
        "/api/v1/users?sort=createdAt&cursor=" + Cursor("createdAt", "9223372036854775807", "A"),
        "/api/v1/users?sort=-createdAt&cursor=" + Cursor("-createdAt", "-1", "A"),
        "/api/v1/users?sort=createdAt&cursor=" + Cursor("createdAt", "1e5", "A"),
        "/api/v1/users?sort=username&cursor=" + Cursor("username", "A\0", "A"),
        "/api/v1/users?sort=email&cursor=" + Cursor("username", "A", "A"),
        "/api/v1/users?cursor=garbage!",
        "/api/v1/users?cursor=" + WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes("""["username","\ud800","A"]""")),
        "/api/v1/customers?cursor=%21%21",
        "/api/v1/customers?cursor=" + WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes("no spaces")),
        "/api/v1/audit-events?cursor=-5",
        "/api/v1/audit-events?cursor=99999999999999999999999",
        "/api/v1/agent/sessions?cursor=" + WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes($"9223372036854775807:{Guid.NewGuid()}")),
    };

    [Theory]
    [MemberData(nameof(BadCursors))]
    public async Task A_cursor_this_listing_never_handed_out_gets_400_invalid_cursor(string url)
    {
        using var api = await Seed.AdminApiAsync(App);
        var problem = await Expect.ProblemAsync(await api.GetAsync(url), HttpStatusCode.BadRequest, "invalid_cursor");
        HasErrors(problem, "cursor");
    }

    [Fact]
    public async Task A_control_character_in_a_form_gets_400_with_the_field()
    {
        using var browser = App.Client(cookies: true);
        var page = await browser.GetStringAsync("/signin");
        var response = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = TesseraApp.AdminUsername + "\0",
            ["Password"] = TesseraApp.AdminPassword,
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        var problem = await Expect.ProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        HasErrors(problem, "Login");
    }

    [Theory]
    [InlineData("/admin/roles/new", "Privileges")]
    [InlineData("/admin/groups/new", "Roles")]
    public async Task An_empty_list_entry_in_a_Back_Office_form_is_no_server_error(string page, string list)
    {
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        var form = await browser.GetStringAsync(page);
        var name = Seed.Unique("empty");
        var response = await browser.PostAsync(page, new FormUrlEncodedContent(
        [
            new("Name", name), new("Description", "d"), new(list, ""), new(list, " "),
            new("__RequestVerificationToken", Seed.AntiforgeryToken(form)),
        ]));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}: {body}");
    }

    [Theory]
    [InlineData("/\t/evil.example", "/")]
    [InlineData("//evil.example", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("https://evil.example/", "/")]
    [InlineData("/\r\n/evil.example", "/")]
    [InlineData("/admin/users?q=a%20b", "/admin/users?q=a%20b")]
    public async Task Signing_in_with_an_odd_return_address_redirects_to_a_local_path(string returnUrl, string expected)
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, "Strict-Request-Pass-1");
        using var browser = App.Client(cookies: true);
        var page = await browser.GetStringAsync("/signin");
        var response = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Login"] = user.Username,
            ["Password"] = "Strict-Request-Pass-1",
            ["returnUrl"] = returnUrl,
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode}: {body}");
        Assert.Equal(expected, response.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("grant_type")]
    [InlineData("client_id")]
    [InlineData("client_secret")]
    [InlineData("scope")]
    [InlineData("unknown_parameter")]
    public async Task A_NUL_in_any_form_value_of_the_token_endpoint_is_an_OAuth_invalid_request(string field)
    {
        using var client = App.Client();
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = TesseraApp.ApiClientId,
            ["client_secret"] = TesseraApp.ApiClientSecret,
            ["scope"] = "api",
        };
        form[field] = (form.GetValueOrDefault(field) ?? "x") + "\0";
        await ExpectOAuthErrorAsync(await client.PostAsync("/connect/token", new FormUrlEncodedContent(form)), "invalid_request");
    }

    [Fact]
    public async Task Control_characters_in_Basic_credentials_or_at_introspection_or_revocation_are_an_OAuth_invalid_request()
    {
        using var client = App.Client();
        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        var raw = Uri.EscapeDataString(TesseraApp.ApiClientId) + ":" + Uri.EscapeDataString(TesseraApp.ApiClientSecret + "\r\n");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(raw)));
        await ExpectOAuthErrorAsync(await client.SendAsync(request), "invalid_request");

        var introspect = await client.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = TesseraApp.ApiClientId,
            ["client_secret"] = TesseraApp.ApiClientSecret,
            ["token"] = "abc\0def",
        }));
        await ExpectOAuthErrorAsync(introspect, "invalid_request");

        var revoke = await client.PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = TesseraApp.ApiClientId,
            ["client_secret"] = TesseraApp.ApiClientSecret,
            ["token"] = "abc\u001bdef",
        }));
        await ExpectOAuthErrorAsync(revoke, "invalid_request");
    }

    [Fact]
    public async Task A_control_character_in_an_authorization_request_is_an_OAuth_invalid_request()
    {
        var user = await Seed.UserAsync(App, UserType.BackOffice, "Strict-Request-Pass-1");
        using var browser = App.Client(cookies: true);
        await Seed.SignInAsync(browser, user.Username, "Strict-Request-Pass-1");
        var url = new AuthorizationCodeClient().AuthorizeUrl() + "&state=a%00b";
        var response = await browser.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}: {body}");
        Assert.Contains("error:invalid_request", body, StringComparison.Ordinal);
    }

    private static async Task ExpectOAuthErrorAsync(HttpResponseMessage response, string error)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400 {error}, got {(int)response.StatusCode}: {body}");
        Assert.Equal(error, JsonDocument.Parse(body).RootElement.GetProperty("error").GetString());
    }
}

/// <summary>The rule for return addresses, case by case.</summary>
public sealed class ReturnUrlTests
{
    [Theory]
    [InlineData(null, "/")]
    [InlineData("", "/")]
    [InlineData("/", "/")]
    [InlineData("/admin/users", "/admin/users")]
    [InlineData("/admin/users?q=a%20b&sort=-email", "/admin/users?q=a%20b&sort=-email")]
    [InlineData("/connect/authorize?client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb", "/connect/authorize?client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb")]
    [InlineData("//evil.example", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("/a\\b", "/")]
    [InlineData("/\t/evil.example", "/")]
    [InlineData("/ /evil.example", "/")]
    [InlineData("/\0", "/")]
    [InlineData("/caf\u00e9", "/")]
    [InlineData("https://evil.example", "/")]
    [InlineData("evil.example", "/")]
    [InlineData("javascript:alert(1)", "/")]
    public void Only_a_clean_local_path_is_kept(string? returnUrl, string expected)
        => Assert.Equal(expected, SignInEndpoints.LocalOnly(returnUrl));

    [Fact]
    public void An_overlong_return_address_is_dropped()
        => Assert.Equal("/", SignInEndpoints.LocalOnly("/" + new string('a', SignInEndpoints.MaxReturnUrlLength)));
}
