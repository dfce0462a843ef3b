using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteSearchTests(SqliteHost host) : SearchTests<SqliteHost>(host);

public sealed class PostgresSearchTests(PostgresHost host) : SearchTests<PostgresHost>(host);

/// <summary>GET /api/v1/users: each filter, combined filters, each sort, and keyset paging.</summary>
public abstract class SearchTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    private static async Task<List<JsonElement>> ItemsAsync(HttpClient api, string query)
    {
        var response = await api.GetAsync("/api/v1/users?" + query);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {body}");
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("items").EnumerateArray().Select(e => e.Clone())];
    }

    private static List<string?> Names(IEnumerable<JsonElement> items) => [.. items.Select(i => i.GetProperty("username").GetString())];

    [Fact]
    public async Task Each_filter_finds_the_user_and_combined_filters_narrow()
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var role = $"Searchers{tag}";
        await api.PostAsJsonAsync("/api/v1/roles", new { name = role });
        var group = $"Finders{tag}";
        var anna = await Create(api, $"anna.{tag}", $"Anna{tag}", $"Zimmer{tag}", [role]);
        var bert = await Create(api, $"bert.{tag}", $"Bert{tag}", $"Young{tag}", []);
        await api.PostAsJsonAsync("/api/v1/groups", new { name = group, userIds = new[] { bert } });

        Assert.Equal([$"anna.{tag}"], Names(await ItemsAsync(api, $"username=ANNA.{tag[..4]}")));
        Assert.Equal([$"anna.{tag}"], Names(await ItemsAsync(api, $"firstName=anna{tag}")));
        Assert.Equal([$"bert.{tag}"], Names(await ItemsAsync(api, $"lastName=young{tag[..3]}")));
        Assert.Equal([$"anna.{tag}"], Names(await ItemsAsync(api, $"email=ANNA.{tag}@")));
        Assert.Equal([$"anna.{tag}"], Names(await ItemsAsync(api, $"role={role}")));
        Assert.Equal([$"bert.{tag}"], Names(await ItemsAsync(api, $"group={group}")));
        Assert.Equal([$"anna.{tag}"], Names(await ItemsAsync(api, $"id={anna}")));
        Assert.Equal([$"anna.{tag}", $"bert.{tag}"], Names(await ItemsAsync(api, $"q={tag}")));
        Assert.Equal([$"bert.{tag}"], Names(await ItemsAsync(api, $"q=ng{tag}")));
        Assert.Equal([$"anna.{tag}", $"bert.{tag}"], Names(await ItemsAsync(api, $"q={tag}&type=backoffice&status=invited")));
        Assert.Empty(await ItemsAsync(api, $"q={tag}&type=api"));
        Assert.Empty(await ItemsAsync(api, $"q={tag}&firstName=bert&role={role}"));
        Assert.All(await ItemsAsync(api, "type=api"), u => Assert.Equal("api", u.GetProperty("type").GetString()));
    }

    [Theory]
    [InlineData("username")]
    [InlineData("-username")]
    [InlineData("lastName")]
    public async Task A_common_term_pages_through_exactly_its_matches(string sort)
    {
        // More matches than the trigram index hands out as candidates, so SQLite walks the sort order instead.
        var tag = "cm" + Guid.NewGuid().ToString("N")[..6];

        // Unique per run as well (the theory's cases share a database), and never containing the term ('m' is no hex digit).
        var other = "x" + Guid.NewGuid().ToString("N")[..8];
        var count = SearchTextIndex.MaxCandidates + 150;
        await BulkUsersAsync(count, i =>
        {
            // Every third match has the term in its last name only; the others in username and email.
            var inName = i % 3 != 0;
            return (inName ? $"w{i % 97:D2}.{tag}{i:D4}" : $"w{i % 97:D2}.{other}{i:D4}", $"F{i % 13}", inName ? $"L{i % 7}" : $"L{tag}{i % 7}", null);
        });

        using var api = await Seed.AdminApiAsync(App);
        var seen = await PageAllAsync(api, $"q={tag}&sort={sort}");
        var names = Names(seen);
        Assert.Equal(count, names.Count);
        Assert.Equal(count, names.Distinct().Count());
        AssertOrderedBy(sort, seen);

        // A username prefix narrows the walk and keeps it exact.
        var prefixed = Names(await ItemsAsync(api, $"q={tag}&username=w05.&sort={sort}&limit=200"));
        Assert.Equal(names.Where(n => n!.StartsWith("w05.", StringComparison.Ordinal)).Order(StringComparer.Ordinal), prefixed.Order(StringComparer.Ordinal));
        Assert.NotEmpty(prefixed);
    }

    [Fact]
    public async Task A_role_with_many_holders_pages_through_exactly_its_holders()
    {
        // More holders than the bound below which PostgreSQL sorts them: the walk probes each user instead.
        using var api = await Seed.AdminApiAsync(App);
        var tag = "rh" + Guid.NewGuid().ToString("N")[..6];
        var role = $"Holders{tag}";
        var roleId = Guid.Parse((await (await api.PostAsJsonAsync("/api/v1/roles", new { name = role })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        var group = $"Holding{tag}";
        var groupId = Guid.Parse((await (await api.PostAsJsonAsync("/api/v1/groups", new { name = group })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        Assert.True((await api.PutAsJsonAsync($"/api/v1/groups/{groupId}/roles", new { roles = new[] { role } })).IsSuccessStatusCode);

        // Holders directly, through the group, and both; plus users without the role between them in the order.
        var count = Users.UserSearch.FewRoleMembers + 300;
        var holders = await BulkUsersAsync(count + count / 4, i => ($"h{i % 89:D2}.{tag}{i:D5}", "Holder", "Test", null), (i, user) => i % 5 == 4 ? null
            : i % 3 == 0 ? new GroupMember { GroupId = groupId, UserId = user.Id }
            : new UserRole { UserId = user.Id, RoleId = roleId });

        var seen = await PageAllAsync(api, $"role={Uri.EscapeDataString(role)}&sort=username");
        var expected = holders.Where(h => h.Holds).Select(h => h.Username).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, Names(seen).Select(n => n!).Where(n => n.Contains(tag, StringComparison.Ordinal)).ToList());
        Assert.Equal(expected.Count, seen.Count);
    }

    [Theory]
    [InlineData("firstName", "username", 3)]
    [InlineData("firstName", "-username", 17)]
    [InlineData("lastName", "-username", 1)]
    [InlineData("lastName", "username", 19)]
    [InlineData("email", "firstName", 7)]
    public async Task A_name_prefix_sorted_by_another_column_pages_in_order(string filter, string sort, int names)
    {
        // A few distinct names under the prefix (PostgreSQL merges a page per name) or many (it sorts the range).
        var tag = "np" + Guid.NewGuid().ToString("N")[..6];
        await BulkUsersAsync(60, i => ($"{(char)('a' + (i * 7 % 26))}{i:D2}.{tag}", $"Pf{tag}{i * 11 % names}", $"Pl{tag}{i * 13 % names}", $"{tag}.{i * 29 % 60:D2}@bulk.test"));
        using var api = await Seed.AdminApiAsync(App);
        var query = $"{filter}=" + filter switch { "firstName" => $"Pf{tag}", "lastName" => $"Pl{tag}", _ => tag };
        var seen = await PageAllAsync(api, $"{query}&sort={sort}", limit: 7);
        Assert.Equal(60, seen.Count);
        AssertOrderedBy(sort, seen);
    }

    /// <summary>The items are in the order of (sort column, username), ascending or, with '-', descending.</summary>
    private static void AssertOrderedBy(string sort, List<JsonElement> seen)
    {
        var key = sort.TrimStart('-');
        var values = seen.Select(u => u.GetProperty(key).GetString()!.ToUpperInvariant() + " " + u.GetProperty("username").GetString()!.ToUpperInvariant()).ToList();
        Assert.Equal(sort.StartsWith('-') ? values.OrderByDescending(v => v, StringComparer.Ordinal) : values.Order(StringComparer.Ordinal), values);
    }

    private static async Task<List<JsonElement>> PageAllAsync(HttpClient api, string query, int limit = 200)
    {
        var seen = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var response = await api.GetAsync($"/api/v1/users?{query}&limit={limit}" + (cursor is null ? "" : "&cursor=" + cursor));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {body}");
            var page = JsonDocument.Parse(body).RootElement;
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(e => e.Clone()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        return seen;
    }

    /// <summary>Inserts users straight into the store, many at once, with an optional link (role or group) each.</summary>
    private async Task<List<(string Username, bool Holds)>> BulkUsersAsync(int count, Func<int, (string Username, string First, string Last, string? Email)> shape, Func<int, User, object?>? link = null)
    {
        var made = new List<(string, bool)>();
        await using var scope = App.Scope(out var db);
        var now = DateTime.UtcNow;
        for (var i = 0; i < count; i++)
        {
            var (username, first, last, email) = shape(i);
            var user = new User
            {
                Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
                Type = UserType.BackOffice, Status = UserStatus.Invited, CredentialMode = CredentialMode.Password, CreatedAt = now, UpdatedAt = now,
            };
            user.SetUsername(username);
            user.SetEmail(email ?? $"{username}@bulk.test");
            user.SetNames(first, last);
            db.Users.Add(user);
            var extra = link?.Invoke(i, user);
            if (extra is not null)
            {
                db.Add(extra);
            }

            made.Add((username, extra is not null));
        }

        await db.SaveChangesAsync();
        return made;
    }

    [Theory]
    [InlineData("username")]
    [InlineData("-username")]
    [InlineData("firstName")]
    [InlineData("-lastName")]
    [InlineData("email")]
    [InlineData("createdAt")]
    [InlineData("-createdAt")]
    public async Task Each_sort_orders_and_pages_without_repeating_or_skipping_while_others_are_inserted(string sort)
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 7; i++)
        {
            await Create(api, $"p{i}.{tag}", $"F{(i * 3) % 7}{tag}", $"L{(i * 5) % 7}{tag}", []);
        }

        var seen = new List<JsonElement>();
        string? cursor = null;
        var inserted = 0;
        do
        {
            var response = await api.GetFromJsonAsync<JsonElement>($"/api/v1/users?q={tag}&sort={sort}&limit=3" + (cursor is null ? "" : "&cursor=" + cursor));
            seen.AddRange(response.GetProperty("items").EnumerateArray().Select(e => e.Clone()));
            cursor = response.GetProperty("nextCursor").GetString();
            if (inserted < 2)
            {
                // A user that sorts before everything seen so far: must not appear, and must not shift the pages.
                await Create(api, $"a{inserted}.{tag}", $"A{tag}", $"Z{tag}", [], before: true);
                inserted++;
            }
        }
        while (cursor is not null);

        var names = Names(seen);
        Assert.Equal(names.Distinct().Count(), names.Count);
        Assert.All(Enumerable.Range(0, 7), i => Assert.Contains($"p{i}.{tag}", names));

        var key = sort.TrimStart('-') switch
        {
            "firstName" => "firstName",
            "lastName" => "lastName",
            "email" => "email",
            "createdAt" => "createdAt",
            _ => "username",
        };
        var values = seen.Select(u => u.GetProperty(key).GetString()!.ToUpperInvariant()).ToList();
        var expected = sort.StartsWith('-') ? values.OrderByDescending(v => v, StringComparer.Ordinal).ToList() : values.Order(StringComparer.Ordinal).ToList();
        if (key != "createdAt")
        {
            Assert.Equal(expected, values);
        }
        else
        {
            var times = seen.Select(u => u.GetProperty("createdAt").GetDateTime()).ToList();
            Assert.Equal(sort.StartsWith('-') ? times.OrderByDescending(t => t) : times.Order(), times);
        }
    }

    [Fact]
    public async Task Substring_search_follows_renames_and_deletions_and_short_terms_still_match()
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var id = await Create(api, $"cleo.{tag}", "Cleo", $"Quarz{tag}", []);

        Assert.Equal([$"cleo.{tag}"], Names(await ItemsAsync(api, $"q=quarz{tag}")));
        Assert.Equal([$"cleo.{tag}"], Names(await ItemsAsync(api, $"q=RZ{tag[..1]}&username=cleo.{tag}")));
        Assert.Contains($"cleo.{tag}", Names(await ItemsAsync(api, $"q=o.&username=cleo.{tag}")));

        var renamed = await api.PatchAsJsonAsync($"/api/v1/users/{id}", new { lastName = $"Basalt{tag}" });
        Assert.True(renamed.IsSuccessStatusCode, await renamed.Content.ReadAsStringAsync());
        Assert.Empty(await ItemsAsync(api, $"q=quarz{tag}"));
        Assert.Equal([$"cleo.{tag}"], Names(await ItemsAsync(api, $"q=basalt{tag}")));
        Assert.Equal([$"cleo.{tag}"], Names(await ItemsAsync(api, $"lastName=basalt{tag[..2]}")));

        var deleted = await api.DeleteAsync($"/api/v1/users/{id}");
        Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        Assert.Empty(await ItemsAsync(api, $"q=basalt{tag}"));
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("sort=password", "sort")]
    [InlineData("cursor=garbage", "cursor")]
    [InlineData("type=robot", "type")]
    public async Task Bad_list_parameters_get_400_with_the_field(string query, string field)
    {
        using var api = await Seed.AdminApiAsync(App);
        var response = await api.GetAsync("/api/v1/users?" + query);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(body.GetProperty("errors").TryGetProperty(field, out _), body.ToString());
    }

    private static async Task<string> Create(HttpClient api, string username, string first, string last, string[] roles, bool before = false)
    {
        _ = before;
        var response = await api.PostAsJsonAsync("/api/v1/users", new { username, email = $"{username}@example.com", firstName = first, lastName = last, type = "backoffice", roles });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return body.GetProperty("id").GetString()!;
    }
}
