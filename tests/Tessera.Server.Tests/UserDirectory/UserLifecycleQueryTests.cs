using System.Linq.Expressions;
using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;
using Tessera.Server.Users;

namespace Tessera.Server.Tests.UserDirectory;

public sealed class SqliteUserLifecycleQueryTests(SqliteHost host) : UserLifecycleQueryTests<SqliteHost>(host);

public sealed class PostgresUserLifecycleQueryTests(PostgresHost host) : UserLifecycleQueryTests<PostgresHost>(host);

/// <summary>
/// The database and the rule agree: over users stored in every status with every kind of lock end, each query of
/// <see cref="UserLifecycleQueries"/> selects exactly the users the matching <see cref="AccountStanding"/> predicate
/// selects, at instants on and around each lock end.
/// </summary>
public abstract class UserLifecycleQueryTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    // Whole seconds: PostgreSQL keeps microseconds, and a lock ending exactly at an instant must store as that instant.
    private static readonly DateTime Now = new(2025, 3, 14, 9, 30, 0, DateTimeKind.Utc);

    private static readonly DateTime?[] LockEnds = [null, Now.AddHours(-1), Now, Now.AddHours(1)];

    // Before, on and after each lock end.
    private static readonly DateTime[] Instants = [Now.AddHours(-2), Now.AddHours(-1), Now.AddTicks(-10), Now, Now.AddMinutes(30), Now.AddHours(1), Now.AddHours(2)];

    [Fact]
    public async Task Each_query_selects_exactly_the_users_the_rule_selects()
    {
        var (_, users) = await StoreEveryStandingAsync(Now);
        await using var scope = App.Scope(out var db);
        var ids = users.Keys.ToList();
        var disagreements = new List<string>();
        foreach (var at in Instants)
        {
            var queries = new List<(string Name, Expression<Func<User, bool>> Query, Func<AccountStanding, bool> Rule)>
            {
                ("LockedAt", UserLifecycleQueries.LockedAt(at), s => s.IsLockedAt(at)),
                ("MayActAt", UserLifecycleQueries.MayActAt(at), s => s.MayActAt(at)),
            };
            foreach (var status in Enum.GetValues<UserStatus>())
            {
                queries.Add(($"EffectiveStatusIs({status})", UserLifecycleQueries.EffectiveStatusIs(status, at), s => s.EffectiveStatus(at) == status));
            }

            foreach (var (name, query, rule) in queries)
            {
                var selected = (await db.Users.Where(u => ids.Contains(u.Id)).Where(query).Select(u => u.Id).ToListAsync()).ToHashSet();
                var expected = users.Where(u => rule(u.Value)).Select(u => u.Key).ToHashSet();
                disagreements.AddRange(users.Where(u => selected.Contains(u.Key) != expected.Contains(u.Key))
                    .Select(u => $"{name} at {at:O}: {u.Value} is {(selected.Contains(u.Key) ? "selected" : "not selected")} by the query, {(expected.Contains(u.Key) ? "selected" : "not selected")} by the rule"));
            }
        }

        Assert.True(disagreements.Count == 0, $"{App.Database.Provider}:\n{string.Join('\n', disagreements)}");
    }

    [Fact]
    public async Task The_lock_update_locks_exactly_the_users_the_rule_locks()
    {
        var (_, users) = await StoreEveryStandingAsync(Now);
        var until = Now.AddMinutes(15);
        var before = await StampsAsync(users.Keys);
        var locked = new Dictionary<Guid, bool>();
        await using (var scope = App.Scope(out var db))
        {
            foreach (var id in users.Keys)
            {
                locked[id] = await db.Users.TryLockAsync(id, Now, until, default);
            }
        }

        var after = await StandingsAsync(users.Keys);
        var stamps = await StampsAsync(users.Keys);
        var disagreements = new List<string>();
        foreach (var (id, standing) in users)
        {
            // The server calls the update once the failure it has just counted reaches the threshold.
            var expected = standing.SignInFailed(Now, threshold: standing.FailedSignInCount + 1, lockFor: until - Now);
            var expectLock = expected == new AccountStanding(UserStatus.Locked, until);
            var seen = after[id];
            if (expectLock != locked[id] || (expectLock ? expected : standing) != seen || (before[id] != stamps[id]) != expectLock)
            {
                disagreements.Add($"{standing}: the rule gives {expected}; the update {(locked[id] ? "locked" : "did not lock")}, stored {seen}, "
                    + $"{(before[id] == stamps[id] ? "kept" : "renewed")} the stamp");
            }
        }

        Assert.True(disagreements.Count == 0, $"{App.Database.Provider}:\n{string.Join('\n', disagreements)}");
    }

    [Fact]
    public async Task The_status_filter_and_the_status_shown_follow_the_rule()
    {
        // Lock ends around the host's clock, an hour away from any instant the requests run at.
        var now = App.Clock.GetUtcNow().UtcDateTime;
        now = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        var (prefix, users) = await StoreEveryStandingAsync(now);
        var byName = await NamesAsync(users.Keys);
        using var api = await Seed.AdminApiAsync(App);
        var at = App.Clock.GetUtcNow().UtcDateTime;

        foreach (var status in Enum.GetValues<UserStatus>())
        {
            var response = await api.GetAsync($"/api/v1/users?username={prefix}&status={status.ToWire()}&limit=100");
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"status={status.ToWire()}: {(int)response.StatusCode} {body}");
            var items = JsonDocument.Parse(body).RootElement.GetProperty("items").EnumerateArray()
                .Select(i => (Username: i.GetProperty("username").GetString()!, Status: i.GetProperty("status").GetString()!)).ToList();

            var expected = users.Where(u => u.Value.EffectiveStatus(at) == status).Select(u => byName[u.Key]).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expected, items.Select(i => i.Username).Order(StringComparer.Ordinal).ToList());
            Assert.All(items, i => Assert.Equal(status.ToWire(), i.Status));
        }
    }

    /// <summary>
    /// One user per status and lock end (none, an hour before <paramref name="now"/>, exactly then, an hour after),
    /// with two failures counted; their usernames start with the prefix returned.
    /// </summary>
    private async Task<(string Prefix, Dictionary<Guid, AccountStanding> Users)> StoreEveryStandingAsync(DateTime now)
    {
        var tag = "lc" + Guid.NewGuid().ToString("N")[..8];
        var made = new Dictionary<Guid, AccountStanding>();
        await using var scope = App.Scope(out var db);
        var ends = LockEnds.Select(e => e is null ? (DateTime?)null : now + (e.Value - Now)).ToList();
        var n = 0;
        foreach (var status in Enum.GetValues<UserStatus>())
        {
            foreach (var end in ends)
            {
                var user = new User
                {
                    Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
                    Type = UserType.BackOffice, CredentialMode = CredentialMode.Password, CreatedAt = now, UpdatedAt = now,
                };
                user.SetUsername($"{tag}.{n:D2}");
                user.SetEmail($"{tag}.{n:D2}@lifecycle.test");
                user.SetNames("Life", $"Cycle{n++}");
                user.Apply(new AccountStanding(status, end, 2));
                db.Users.Add(user);
                made[user.Id] = user.Standing;
            }
        }

        await db.SaveChangesAsync();
        return (tag, made);
    }

    private async Task<Dictionary<Guid, AccountStanding>> StandingsAsync(IEnumerable<Guid> users)
    {
        var ids = users.ToList();
        await using var scope = App.Scope(out var db);
        return await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id))
            .ToDictionaryAsync(u => u.Id, u => u.Standing);
    }

    private async Task<Dictionary<Guid, string>> StampsAsync(IEnumerable<Guid> users)
    {
        var ids = users.ToList();
        await using var scope = App.Scope(out var db);
        return await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.SecurityStamp);
    }

    private async Task<Dictionary<Guid, string>> NamesAsync(IEnumerable<Guid> users)
    {
        var ids = users.ToList();
        await using var scope = App.Scope(out var db);
        return await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Username);
    }
}
