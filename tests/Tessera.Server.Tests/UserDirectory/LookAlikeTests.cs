using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteLookAlikeTests(SqliteHost host) : LookAlikeTests<SqliteHost>(host);

public sealed class PostgresLookAlikeTests(PostgresHost host) : LookAlikeTests<PostgresHost>(host);

/// <summary>
/// Names that read like existing ones (UTS #39 skeletons) are refused with 409 confusable_with, naming the existing
/// one; emails are kept in NFKC; names hold no control characters; PATCH accepts an unchanged type.
/// </summary>
public abstract class LookAlikeTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private static async Task<JsonElement> ConfusableAsync(HttpResponseMessage response, string field, string existing)
    {
        var problem = await Expect.ProblemAsync(response, HttpStatusCode.Conflict, "confusable_with");
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal(existing, problem.GetProperty("confusableWith").GetString());
        Assert.Contains(existing, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        return problem;
    }

    private static Task<HttpResponseMessage> CreateUserAsync(HttpClient api, string username, string email, string? firstName = null)
        => api.PostAsJsonAsync("/api/v1/users", new { username, email, firstName = firstName ?? "Test", lastName = "User", type = "backoffice" });

    [Fact]
    public async Task A_role_that_reads_like_the_built_in_Administrator_is_refused_on_create_rename_and_import()
    {
        using var api = await Seed.AdminApiAsync(App);

        // "Admіnistrator" with a Cyrillic і (U+0456).
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = "Adm\u0456nistrator", privileges = Array.Empty<string>() }), "name", "Administrator");
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = "ADM\u0406NISTRATOR", privileges = Array.Empty<string>() }), "name", "Administrator");

        var name = Seed.Unique("Auditors");
        var created = await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name, privileges = Array.Empty<string>() }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString();
        await ConfusableAsync(await api.PutAsJsonAsync($"/api/v1/roles/{id}", new { name = "Adm\u0456nistrator" }), "name", "Administrator");

        // Renaming a role to a look-alike of its own name is no conflict with itself.
        var own = name.Replace("A", "\u0410", StringComparison.Ordinal); // Cyrillic А
        await Expect.ResponseAsync(await api.PutAsJsonAsync($"/api/v1/roles/{id}", new { name = own }), HttpStatusCode.OK);

        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/roles/import?mode=merge", new { roles = new[] { new { name = "Adm\u0131nistrator", privileges = Array.Empty<string>() } } }), "name", "Administrator");
        var twice = Seed.Unique("Twins");
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/roles/import?mode=merge", new
        {
            roles = new[] { new { name = twice, privileges = Array.Empty<string>() }, new { name = twice.Replace("i", "\u0131", StringComparison.Ordinal), privileges = Array.Empty<string>() } },
        }), "name", twice);
    }

    [Fact]
    public async Task A_group_that_reads_like_another_is_refused_on_create_and_rename()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("Sales");
        await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name }), HttpStatusCode.Created);

        var lookAlike = "S\u0430les" + name[5..]; // Cyrillic а
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = lookAlike }), "name", name);
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = name[..3] + "\u200B" + name[3..] }), "name", name);

        var other = await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = Seed.Unique("Support") }), HttpStatusCode.Created);
        await ConfusableAsync(await api.PutAsJsonAsync($"/api/v1/groups/{other.GetProperty("id").GetString()}", new { name = lookAlike }), "name", name);
    }

    [Fact]
    public async Task Emails_with_a_Cyrillic_a_or_a_dotless_i_are_refused_beside_the_Latin_ones()
    {
        using var api = await Seed.AdminApiAsync(App);
        var local = Seed.Unique("maria").Replace(".", "", StringComparison.Ordinal);
        var email = $"{local}@example.com";
        await Expect.ResponseAsync(await CreateUserAsync(api, local, email), HttpStatusCode.Created);

        await ConfusableAsync(await CreateUserAsync(api, Seed.Unique("other"), "m\u0430" + email[2..]), "email", email);
        await ConfusableAsync(await CreateUserAsync(api, Seed.Unique("other"), "mar\u0131" + email[4..]), "email", email);

        // Fullwidth letters are the letters themselves (NFKC): the same address, so taken rather than a look-alike.
        await Expect.ProblemAsync(await CreateUserAsync(api, Seed.Unique("other"), "\uFF4D" + email[1..]), HttpStatusCode.Conflict, "email_taken");

        var second = await Expect.ResponseAsync(await CreateUserAsync(api, Seed.Unique("other"), $"{Seed.Unique("x")}@example.com"), HttpStatusCode.Created);
        await ConfusableAsync(await api.PatchAsJsonAsync($"/api/v1/users/{second.GetProperty("id").GetString()}", new { email = "m\u0430" + email[2..] }), "email", email);
    }

    [Fact]
    public async Task A_username_that_reads_like_another_is_refused_and_an_email_is_stored_in_NFKC()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("paypal");
        await Expect.ResponseAsync(await CreateUserAsync(api, username, $"{username}@example.com"), HttpStatusCode.Created);

        await ConfusableAsync(await CreateUserAsync(api, "paypa1" + username[6..], $"{Seed.Unique("p")}@example.com"), "username", username);
        await ConfusableAsync(await CreateUserAsync(api, "PAYPA1" + username[6..], $"{Seed.Unique("p")}@example.com"), "username", username);

        var typed = $"\uFF46ull.{Seed.Unique("w")}@example.com"; // a fullwidth f
        var created = await Expect.ResponseAsync(await CreateUserAsync(api, Seed.Unique("nfkc"), typed), HttpStatusCode.Created);
        Assert.Equal("f" + typed[1..], created.GetProperty("email").GetString());
    }

    [Fact]
    public async Task Control_characters_in_names_are_refused_so_they_never_reach_a_mail()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("crlf");
        var problem = await Expect.ProblemAsync(await CreateUserAsync(api, username, $"{username}@example.com", "Jane\r\nClick: http://evil.example"), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("firstName", out _), problem.ToString());

        var created = await Expect.ResponseAsync(await CreateUserAsync(api, username, $"{username}@example.com"), HttpStatusCode.Created);
        var patch = await api.PatchAsJsonAsync($"/api/v1/users/{created.GetProperty("id").GetString()}", new { lastName = "Doe\nBCC: x@evil.example" });
        var refused = await Expect.ProblemAsync(patch, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(refused.GetProperty("errors").TryGetProperty("lastName", out _), refused.ToString());
    }

    [Fact]
    public async Task PATCH_accepts_an_unchanged_type_and_refuses_another()
    {
        using var api = await Seed.AdminApiAsync(App);
        var username = Seed.Unique("typed");
        var created = await Expect.ResponseAsync(await CreateUserAsync(api, username, $"{username}@example.com"), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString();

        var same = await Expect.ResponseAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { type = "backoffice", firstName = "Renamed" }), HttpStatusCode.OK);
        Assert.Equal("Renamed", same.GetProperty("firstName").GetString());
        Assert.Equal("backoffice", same.GetProperty("type").GetString());

        var other = await Expect.ProblemAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { type = "api" }), HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(other.GetProperty("errors").TryGetProperty("type", out _), other.ToString());
        await Expect.ProblemAsync(await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { type = "robot" }), HttpStatusCode.BadRequest, "validation_failed");
    }

    [Fact]
    public async Task Rows_from_before_the_skeleton_columns_are_filled_at_start_and_then_count()
    {
        using var api = await Seed.AdminApiAsync(App);
        var name = Seed.Unique("Legacy");
        var group = await Expect.ResponseAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name }), HttpStatusCode.Created);
        var groupId = Guid.Parse(group.GetProperty("id").GetString()!);
        await using (var scope = App.Scope(out var db))
        {
            // As the migration leaves them: empty.
            await db.Groups.Where(g => g.Id == groupId).ExecuteUpdateAsync(s => s.SetProperty(g => g.NameSkeleton, ""));
            await db.Roles.Where(r => r.Name == "Administrator").ExecuteUpdateAsync(s => s.SetProperty(r => r.NameSkeleton, ""));
            await db.Users.ExecuteUpdateAsync(s => s.SetProperty(u => u.UsernameSkeleton, "").SetProperty(u => u.EmailSkeleton, ""));

            Assert.True(await SkeletonBackfill.RunAsync(db, CancellationToken.None) >= 3);
            Assert.Equal(0, await SkeletonBackfill.RunAsync(db, CancellationToken.None));
            Assert.Equal(Skeletons.Of(name), await db.Groups.Where(g => g.Id == groupId).Select(g => g.NameSkeleton).SingleAsync());
            Assert.False(await db.Users.AnyAsync(u => u.UsernameSkeleton == "" || u.EmailSkeleton == ""));
        }

        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/groups", new { name = name.Replace("e", "\u0435", StringComparison.Ordinal) }), "name", name);
        await ConfusableAsync(await api.PostAsJsonAsync("/api/v1/roles", new { name = "Adm\u0456nistrator", privileges = Array.Empty<string>() }), "name", "Administrator");
    }
}
