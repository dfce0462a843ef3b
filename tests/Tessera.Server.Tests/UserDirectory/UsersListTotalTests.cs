using System.Net;
using System.Text.Json;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteUsersListTotalTests(SqliteHost host) : UsersListTotalTests<SqliteHost>(host);

public sealed class PostgresUsersListTotalTests(PostgresHost host) : UsersListTotalTests<PostgresHost>(host);

/// <summary>GET /api/v1/users: includeTotal (exact up to 10,000, capped beyond) and previousCursor (paging back).</summary>
public abstract class UsersListTotalTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    /// <summary>Users whose last name is <paramref name="lastName"/>, written straight to the store (10,001 in a few seconds).</summary>
    private async Task<List<string>> SeedAsync(string lastName, int count)
    {
        await using var scope = App.Scope(out var db);
        var now = DateTime.UtcNow;
        var names = new List<string>(count);
        var users = new List<User>(count);
        for (var i = 0; i < count; i++)
        {
            var user = new User
            {
                Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
                Type = UserType.BackOffice, Status = UserStatus.Invited, CredentialMode = CredentialMode.Password, CreatedAt = now, UpdatedAt = now,
            };
            var username = $"{lastName.ToLowerInvariant()}.{i:D5}";
            user.SetUsername(username);
            user.SetEmail($"{username}@total.test");
            user.SetNames("Total", lastName);
            users.Add(user);
            names.Add(username);
        }

        db.Users.AddRange(users);
        await db.SaveChangesAsync();
        return names;
    }

    private static async Task<JsonElement> PageAsync(HttpClient api, string query)
        => await Expect.ResponseAsync(await api.GetAsync("/api/v1/users?" + query), HttpStatusCode.OK);

    private static List<string> Names(JsonElement page) => [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("username").GetString()!)];

    [Fact]
    public async Task The_total_is_exact_up_to_ten_thousand_and_capped_beyond_and_absent_unless_asked()
    {
        using var api = await Seed.AdminApiAsync(App);
        var few = "Few" + Guid.NewGuid().ToString("N")[..8];
        await SeedAsync(few, 7);

        var counted = await PageAsync(api, $"lastName={few}&limit=2&includeTotal=true");
        Assert.Equal(7, counted.GetProperty("total").GetInt32());
        Assert.True(counted.GetProperty("totalExact").GetBoolean());
        Assert.Equal(2, Names(counted).Count);

        // Without includeTotal the answer is as it always was: no total, no totalExact.
        var plain = await PageAsync(api, $"lastName={few}&limit=2");
        Assert.False(plain.TryGetProperty("total", out _));
        Assert.False(plain.TryGetProperty("totalExact", out _));

        // The total follows every filter of the page: q narrows it too.
        var narrowed = await PageAsync(api, $"lastName={few}&q={few.ToLowerInvariant()}.0000&includeTotal=true");
        Assert.Equal(7, narrowed.GetProperty("total").GetInt32());
        var one = await PageAsync(api, $"lastName={few}&q={few.ToLowerInvariant()}.00003&includeTotal=true");
        Assert.Equal(1, one.GetProperty("total").GetInt32());

        var many = "Many" + Guid.NewGuid().ToString("N")[..8];
        await SeedAsync(many, 10_001);
        var capped = await PageAsync(api, $"lastName={many}&limit=5&includeTotal=true");
        Assert.Equal(10_000, capped.GetProperty("total").GetInt32());
        Assert.False(capped.GetProperty("totalExact").GetBoolean());
        Assert.Equal(5, Names(capped).Count);

        // One fewer and it is exact again.
        await using (var scope = App.Scope(out var db))
        {
            var last = Usernames.Normalize($"{many.ToLowerInvariant()}.10000");
            db.Users.Remove(db.Users.Single(u => u.NormalizedUsername == last));
            await db.SaveChangesAsync();
        }

        var exact = await PageAsync(api, $"lastName={many}&limit=5&includeTotal=true");
        Assert.Equal(10_000, exact.GetProperty("total").GetInt32());
        Assert.True(exact.GetProperty("totalExact").GetBoolean());
    }

    [Theory]
    [InlineData("username")]
    [InlineData("-email")]
    [InlineData("createdAt")]
    public async Task Walking_back_with_previousCursor_gives_the_same_pages_as_walking_forward(string sort)
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = "Walk" + Guid.NewGuid().ToString("N")[..8];
        var all = await SeedAsync(tag, 7);
        var filter = $"lastName={tag}&limit=2&sort={Uri.EscapeDataString(sort)}";

        var forward = new List<(List<string> Names, string? Previous, string? Next)>();
        string? cursor = null;
        do
        {
            var page = await PageAsync(api, filter + (cursor is null ? "" : "&cursor=" + cursor));
            var next = page.GetProperty("nextCursor").GetString();
            forward.Add((Names(page), page.GetProperty("previousCursor").GetString(), next));
            cursor = next;
        }
        while (cursor is not null);

        Assert.Equal(4, forward.Count);
        Assert.Null(forward[0].Previous);
        Assert.All(forward.Skip(1), p => Assert.NotNull(p.Previous));
        Assert.Equal(7, forward.SelectMany(p => p.Names).Distinct().Count());
        Assert.Equal(all.Order(StringComparer.Ordinal), forward.SelectMany(p => p.Names).Order(StringComparer.Ordinal));

        // From the last page back to the first: each previousCursor gives the page before, with working cursors both ways.
        var previous = forward[^1].Previous;
        for (var i = forward.Count - 2; i >= 0; i--)
        {
            var page = await PageAsync(api, filter + "&cursor=" + previous);
            Assert.Equal(forward[i].Names, Names(page));
            var next = page.GetProperty("nextCursor").GetString();
            Assert.NotNull(next);
            Assert.Equal(forward[i + 1].Names, Names(await PageAsync(api, filter + "&cursor=" + next)));
            previous = page.GetProperty("previousCursor").GetString();
            Assert.Equal(i == 0, previous is null);
        }
    }

    [Fact]
    public async Task A_previousCursor_of_another_sort_or_a_forged_direction_is_refused()
    {
        using var api = await Seed.AdminApiAsync(App);
        var tag = "Forge" + Guid.NewGuid().ToString("N")[..8];
        await SeedAsync(tag, 3);
        var second = await PageAsync(api, $"lastName={tag}&limit=1&cursor={(await PageAsync(api, $"lastName={tag}&limit=1")).GetProperty("nextCursor").GetString()}");
        var back = second.GetProperty("previousCursor").GetString();
        await Expect.ProblemAsync(await api.GetAsync($"/api/v1/users?lastName={tag}&limit=1&sort=email&cursor={back}"), HttpStatusCode.BadRequest, "invalid_cursor");
        var forged = Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(new[] { "username", "X", "X", "sideways" }));
        await Expect.ProblemAsync(await api.GetAsync($"/api/v1/users?limit=1&cursor={forged}"), HttpStatusCode.BadRequest, "invalid_cursor");
    }
}
