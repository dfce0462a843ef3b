using System.ComponentModel;
using System.Linq.Expressions;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>The filters, sort and page of GET /api/v1/users.</summary>
public sealed record UserQuery(
    [property: Description("Users whose id starts with this text.")] string? Id = null,
    [property: Description("Users whose username starts with this text, ignoring case.")] string? Username = null,
    [property: Description("Users whose first name starts with this text, ignoring case.")] string? FirstName = null,
    [property: Description("Users whose last name starts with this text, ignoring case.")] string? LastName = null,
    [property: Description("Users whose email address starts with this text, ignoring case.")] string? Email = null,
    [property: Description("Users who hold the role of this name directly or through a group.")] string? Role = null,
    [property: Description("Members of the group of this name.")] string? Group = null,
    [property: Description("backoffice or api.")] string? Type = null,
    [property: Description("invited, active, locked or disabled (locked: a lockout that has not ended).")] string? Status = null,
    [property: Description("Users whose username, names or email contain this text, ignoring case.")] string? Q = null,
    [property: Description("Users with a role grant or group membership that ends within this many days (1 to 3650) and has not ended yet.")] string? Expiring = null,
    [property: Description("username (the default), firstName, lastName, email or createdAt; a leading '-' sorts descending.")] string? Sort = null,
    [property: Description("Users per page, 1 to 200; 50 when left out.")] int? Limit = null,
    [property: Description("The nextCursor (or previousCursor) of a page already read; left out for the first page.")] string? Cursor = null,
    [property: Description("true adds total (exact up to 10,000) and totalExact (false when more than 10,000 users match).")] bool? IncludeTotal = null);

/// <summary>
/// The users list: every filter served by an index (normalized prefix columns, a trigram index for
/// `q` on PostgreSQL), keyset paging on (sort column, normalized username) so page 10,000 costs what
/// page 1 does and inserts between pages neither repeat nor skip anyone, and roles and groups of a
/// whole page loaded in two queries.
/// </summary>
public sealed class UserSearch(TesseraDbContext db, TimeProvider clock)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>The most users a total counts exactly; beyond it the answer says "more than 10,000".</summary>
    public const int TotalCap = 10_000;

    /// <summary>The widest window of the <c>expiring</c> filter: ten years, the furthest a validity may reach.</summary>
    public const int MaxExpiringDays = 3650;

    private static readonly Dictionary<string, Expression<Func<User, string>>> StringSorts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["username"] = u => u.NormalizedUsername,
        ["firstName"] = u => u.NormalizedFirstName,
        ["lastName"] = u => u.NormalizedLastName,
        ["email"] = u => u.NormalizedEmail,
    };

    // Compiled once: compiling an expression per page costs more than the query it serves.
    private static readonly Dictionary<string, Func<User, string>> SortValues =
        StringSorts.ToDictionary(s => s.Key, s => s.Value.Compile(), StringComparer.OrdinalIgnoreCase);

    public async Task<Outcome<UserPage>> SearchAsync(UserQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        var sort = string.IsNullOrWhiteSpace(query.Sort) ? "username" : query.Sort.Trim();
        var descending = sort.StartsWith('-');
        var field = descending ? sort[1..] : sort;
        if (!StringSorts.ContainsKey(field) && !field.Equals("createdAt", StringComparison.OrdinalIgnoreCase))
        {
            errors["sort"] = ["sort must be username, firstName, lastName, email or createdAt, with '-' for descending."];
        }

        int? expiring = null;
        if (query.Expiring is not null)
        {
            expiring = int.TryParse(query.Expiring, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : -1;
        }

        if (expiring is < 1 or > MaxExpiringDays)
        {
            errors["expiring"] = [$"expiring must be a number of days from 1 to {MaxExpiringDays}."];
        }

        UserType type = default;
        if (query.Type is not null && !UserWireNames.TryParseType(query.Type, out type))
        {
            errors["type"] = ["type must be 'backoffice' or 'api'."];
        }

        UserStatus status = default;
        if (query.Status is not null && !UserWireNames.TryParseStatus(query.Status, out status))
        {
            errors["status"] = ["status must be invited, active, locked or disabled."];
        }

        Cursor? after = null;
        if (query.Cursor is not null && !Cursor.TryDecode(query.Cursor, sort, out after))
        {
            errors["cursor"] = [Http.Paging.CursorMessage];
        }

        if (errors.Count > 0)
        {
            return Http.Paging.Refuse(errors);
        }

        // q: on SQLite the trigram index names the few users that can match; a common or short term walks the sort order instead.
        var byUsername = field.Equals("username", StringComparison.OrdinalIgnoreCase);
        var byCreatedAt = field.Equals("createdAt", StringComparison.OrdinalIgnoreCase);
        var postgres = db.Provider == DatabaseProvider.Postgres;
        var term = string.IsNullOrWhiteSpace(query.Q) ? null : query.Q.Trim().ToUpperInvariant();
        var candidates = term is null ? null : await SearchTextIndex.CandidatesAsync(db, term, ct);
        var users = term is not null && candidates is null && !postgres && byUsername
            ? SearchTextIndex.UsersInUsernameOrder(db)
            : db.Users;
        users = users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(query.Id))
        {
            users = Guid.TryParse(query.Id, out var exact)
                ? users.Where(u => u.Id == exact)
                : users.Where(u => false);
        }

        if (!string.IsNullOrWhiteSpace(query.Username))
        {
            var prefix = Usernames.Normalize(query.Username);
            users = users.Where(u => u.NormalizedUsername.StartsWith(prefix));
            if (BinaryRange(prefix) is { } upper)
            {
                users = users.Where(u => string.Compare(u.NormalizedUsername, prefix) >= 0 && string.Compare(u.NormalizedUsername, upper) < 0);
            }
        }

        if (!string.IsNullOrWhiteSpace(query.FirstName))
        {
            var prefix = query.FirstName.Trim().ToUpperInvariant();
            users = users.Where(u => u.NormalizedFirstName.StartsWith(prefix));
            if (BinaryRange(prefix) is { } upper)
            {
                users = users.Where(u => string.Compare(u.NormalizedFirstName, prefix) >= 0 && string.Compare(u.NormalizedFirstName, upper) < 0);
            }
        }

        if (!string.IsNullOrWhiteSpace(query.LastName))
        {
            var prefix = query.LastName.Trim().ToUpperInvariant();
            users = users.Where(u => u.NormalizedLastName.StartsWith(prefix));
            if (BinaryRange(prefix) is { } upper)
            {
                users = users.Where(u => string.Compare(u.NormalizedLastName, prefix) >= 0 && string.Compare(u.NormalizedLastName, upper) < 0);
            }
        }

        if (!string.IsNullOrWhiteSpace(query.Email))
        {
            var prefix = Usernames.Normalize(query.Email);
            users = users.Where(u => u.NormalizedEmail.StartsWith(prefix));
            if (BinaryRange(prefix) is { } upper)
            {
                users = users.Where(u => string.Compare(u.NormalizedEmail, prefix) >= 0 && string.Compare(u.NormalizedEmail, upper) < 0);
            }
        }

        if (term is not null)
        {
            users = users.Where(u => u.SearchText.Contains(term));
            if (candidates is not null)
            {
                users = users.Where(u => candidates.Contains(u.Id));
            }
        }

        if (query.Type is not null)
        {
            users = users.Where(u => u.Type == type);
        }

        if (query.Status is not null)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            users = users.Where(UserLifecycleQueries.EffectiveStatusIs(status, now));
        }

        var fewRoleMembers = false;
        if (!string.IsNullOrWhiteSpace(query.Role))
        {
            var role = query.Role.Trim().ToUpperInvariant();
            if (postgres)
            {
                (users, fewRoleMembers) = await RoleOnPostgresAsync(users, role, ct);
            }
            else
            {
                var roleIds = db.Roles.Where(r => r.NormalizedName == role).Select(r => r.Id);
                users = users.Where(u => db.UserRoles.Any(r => r.UserId == u.Id && roleIds.Contains(r.RoleId))
                    || db.GroupMembers.Any(m => m.UserId == u.Id && db.GroupRoles.Any(g => g.GroupId == m.GroupId && roleIds.Contains(g.RoleId))));
            }
        }

        if (expiring is { } days)
        {
            // Both sides read the index of ValidUntil: few assignments end at all, fewer within the window.
            var now = clock.GetUtcNow().UtcDateTime;
            var horizon = now.AddDays(days);
            users = users.Where(u => db.UserRoles.Any(r => r.UserId == u.Id && r.ValidUntil > now && r.ValidUntil <= horizon)
                || db.GroupMembers.Any(m => m.UserId == u.Id && m.ValidUntil > now && m.ValidUntil <= horizon));
        }

        if (!string.IsNullOrWhiteSpace(query.Group))
        {
            var group = query.Group.Trim().ToUpperInvariant();
            users = users.Where(u => db.GroupMembers.Any(m => m.UserId == u.Id && m.Group!.NormalizedName == group));
        }

        // The total counts the filtered users up to one beyond the cap (COUNT over a LIMIT subquery): at most 10,001
        // index entries are read however many match, and nothing when the caller did not ask.
        int? total = null;
        if (query.IncludeTotal == true)
        {
            total = await users.Select(u => u.Id).Take(TotalCap + 1).CountAsync(ct);
        }

        // Walking back (a previousCursor) reads the rows before the position in the opposite order, then turns them round.
        var backward = after?.Backward == true;
        var walk = descending != backward;

        // A name or email prefix names one range of its index; on PostgreSQL, choosing the page from that range
        // (index only, then 51 rows read) beats walking the sort order, which the planner misjudges because
        // usernames are made of the same names.
        var prefixRange = postgres && !byCreatedAt
            && ((!string.IsNullOrWhiteSpace(query.FirstName) && !field.Equals("firstName", StringComparison.OrdinalIgnoreCase))
                || (!string.IsNullOrWhiteSpace(query.LastName) && !field.Equals("lastName", StringComparison.OrdinalIgnoreCase))
                || (!string.IsNullOrWhiteSpace(query.Email) && !field.Equals("email", StringComparison.OrdinalIgnoreCase)));
        var hideSortIndex = candidates is not null || fewRoleMembers || prefixRange;
        if (byCreatedAt)
        {
            users = PageByCreatedAt(users, walk, after);
        }
        else if (postgres && byUsername
            && await NameValuesAsync(query, ct) is { } names)
        {
            // A name prefix that covers a few distinct names: each name's users lie in username order in the index of
            // (name, username), so the page is the merge of a page per name, read from the index alone.
            var (column, values) = names;
            IQueryable<KeysetRow>? union = null;
            foreach (var value in values)
            {
                var ofName = column == "NormalizedFirstName" ? users.Where(u => u.NormalizedFirstName == value) : users.Where(u => u.NormalizedLastName == value);
                var branch = PageByString(ofName, StringSorts[field], walk, after).Take(limit + 1).Select(u => new KeysetRow { Id = u.Id, Username = u.NormalizedUsername });
                union = union is null ? branch : union.Concat(branch);
            }

            users = RowsOf((walk ? union!.OrderByDescending(r => r.Username) : union!.OrderBy(r => r.Username)).Take(limit + 1).Select(r => r.Id));
        }
        else if (postgres)
        {
            // The page's ids first, from indexes that carry them (index-only scans: the walk tests q on the index of
            // username and search text), then 51 rows: PostgreSQL reads no row it does not return.
            users = RowsOf(PageByString(users, StringSorts[field], walk, after, hideSortIndex).Take(limit + 1).Select(u => u.Id));
        }
        else
        {
            users = PageByString(users, StringSorts[field], walk, after, hideSortIndex);
        }

        var page = await users.Take(limit + 1).ToListAsync(ct);
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(limit);
        }

        if (backward && !more)
        {
            // Back at the start: the first page itself, full and without a previous one, not the few rows before the position.
            return await SearchAsync(query with { Cursor = null }, ct);
        }

        if (backward)
        {
            page.Reverse();
        }

        string? CursorAt(User row, bool back)
        {
            var value = byCreatedAt
                ? row.CreatedAt.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : SortValues[field](row);
            return new Cursor(sort, value, row.NormalizedUsername, back).Encode();
        }

        // Forward, more rows mean a next page and any cursor means a previous one; backward, the position itself lies after
        // the page, and more rows mean a page before it.
        var next = page.Count > 0 && (backward || more) ? CursorAt(page[^1], back: false) : null;
        var previous = page.Count > 0 && (backward ? more : after is not null) ? CursorAt(page[0], back: true) : null;
        if (!backward && after is not null && page.Count == 0)
        {
            // Past the end (the last rows were deleted meanwhile): the way back starts at the position itself.
            previous = new Cursor(sort, after.Value, after.Username, true).Encode();
        }

        return Outcome<UserPage>.Ok(new UserPage(await UserService.ToResponsesAsync(db, page, clock, ct), next)
        {
            PreviousCursor = previous,
            Total = total is { } counted ? Math.Min(counted, TotalCap) : null,
            TotalExact = total is { } all ? all <= TotalCap : null,
        });

        // The rows of a page whose ids (and order) were chosen from indexes alone.
        IQueryable<User> RowsOf(IQueryable<Guid> ids)
            => PageByString(db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)), StringSorts[field], walk, after: null);
    }

    /// <summary>
    /// On SQLite, whose LIKE ignores case and so cannot use a BINARY index, the prefix as a range that can:
    /// every string starting with the prefix lies in [prefix, upper). Null on PostgreSQL (the normalized keys
    /// use collation C, whose B-trees serve LIKE 'x%' themselves) and for prefixes whose last character cannot
    /// simply be incremented.
    /// </summary>
    private string? BinaryRange(string prefix)
    {
        if (db.Provider != DatabaseProvider.Sqlite || prefix.Length == 0 || prefix[^1] >= '\uD7FF')
        {
            return null;
        }

        return string.Concat(prefix.AsSpan(0, prefix.Length - 1), ((char)(prefix[^1] + 1)).ToString());
    }

    /// <summary>Up to this many distinct names under a name prefix, a page is merged from one index range per name.</summary>
    public const int FewNames = 16;

    private sealed class KeysetRow
    {
        public Guid Id { get; init; }

        public string Username { get; init; } = "";
    }

    /// <summary>
    /// On PostgreSQL, the distinct first (or else last) names under the query's name prefix, found by hopping from one
    /// name to the next in its index (one probe per name, in one statement); null when there is no such filter or more
    /// than <see cref="FewNames"/> names.
    /// </summary>
    private async Task<(string Column, List<string> Values)?> NameValuesAsync(UserQuery query, CancellationToken ct)
    {
        var (column, raw) = !string.IsNullOrWhiteSpace(query.FirstName) ? ("NormalizedFirstName", query.FirstName)
            : !string.IsNullOrWhiteSpace(query.LastName) ? ("NormalizedLastName", query.LastName)
            : (null, null);
        if (column is null)
        {
            return null;
        }

        var pattern = raw!.Trim().ToUpperInvariant().Replace(@"\", @"\\", StringComparison.Ordinal)
            .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal) + "%";
        var sql = $$"""
            WITH RECURSIVE names(n) AS (
              (SELECT "{{column}}" FROM users WHERE "{{column}}" LIKE {0} ORDER BY 1 LIMIT 1)
              UNION ALL
              SELECT (SELECT "{{column}}" FROM users WHERE "{{column}}" LIKE {0} AND "{{column}}" > names.n ORDER BY 1 LIMIT 1)
              FROM names WHERE names.n IS NOT NULL
            )
            SELECT n AS "Value" FROM names WHERE n IS NOT NULL LIMIT {{FewNames + 1}}
            """;
        var values = await db.Database.SqlQueryRaw<string>(sql, pattern).ToListAsync(ct);
        return values.Count is > 0 and <= FewNames ? (column, values) : null;
    }

    /// <summary>Below this many holders a role's users are sorted; from it on, the username order is walked.</summary>
    public const int FewRoleMembers = 5000;

    /// <summary>
    /// The role filter on PostgreSQL. Under an OR of two EXISTS the planner hashes every holder of the role before
    /// walking the sort order (190,000 ids for a common role at a million users); so the holders are counted up to a
    /// bound first: few are looked up and sorted, many are probed one user at a time along the walk (OFFSET 0 keeps
    /// each EXISTS a per-row probe), which finds a page after a few hundred users.
    /// </summary>
    private async Task<(IQueryable<User> Users, bool Few)> RoleOnPostgresAsync(IQueryable<User> users, string role, CancellationToken ct)
    {
        var roleIds = await db.Roles.Where(r => r.NormalizedName == role).Select(r => r.Id).ToListAsync(ct);
        var groupIds = await db.GroupRoles.Where(g => roleIds.Contains(g.RoleId)).Select(g => g.GroupId).Distinct().ToListAsync(ct);
        var direct = db.UserRoles.Where(r => roleIds.Contains(r.RoleId)).Select(r => r.UserId);
        var viaGroups = db.GroupMembers.Where(m => groupIds.Contains(m.GroupId)).Select(m => m.UserId);
        var holderIds = direct.Concat(viaGroups);
        if (await holderIds.Take(FewRoleMembers).CountAsync(ct) < FewRoleMembers)
        {
            return (users.Where(u => holderIds.Contains(u.Id)), true);
        }

        return (users.Where(u => db.UserRoles.Where(r => r.UserId == u.Id && roleIds.Contains(r.RoleId)).Skip(0).Any()
            || db.GroupMembers.Where(m => m.UserId == u.Id && groupIds.Contains(m.GroupId)).Skip(0).Any()), false);
    }

    private static IQueryable<User> PageByString(IQueryable<User> users, Expression<Func<User, string>> key, bool descending, Cursor? after, bool hideSortIndex = false)
    {
        var order = key;
        if (hideSortIndex)
        {
            // A bounded set (few candidates or holders, one prefix range): sorting it beats walking the sort index until
            // enough match, which the planner would otherwise choose for ORDER BY … LIMIT. Ordering by key || '' keeps
            // the order and hides the index.
            var concat = typeof(string).GetMethod(nameof(string.Concat), [typeof(string), typeof(string)])!;
            order = Expression.Lambda<Func<User, string>>(Expression.Call(concat, key.Body, Expression.Constant("")), key.Parameters);
        }

        if (after is not null)
        {
            // (key, username) > (value, last) — or < when descending — written so both providers use the index.
            var value = after.Value;
            var last = after.Username;
            var u = key.Parameters[0];
            var keyBody = key.Body;
            var name = Expression.Property(u, nameof(User.NormalizedUsername));
            var compare = typeof(string).GetMethod(nameof(string.Compare), [typeof(string), typeof(string)])!;

            // Members of a captured object, not constants: EF Core makes them parameters, so every cursor shares one compiled query.
            var position = Expression.Constant(new KeysetPosition(value, last));
            var valueParameter = Expression.Property(position, nameof(KeysetPosition.Value));
            var lastParameter = Expression.Property(position, nameof(KeysetPosition.Last));
            Expression Cmp(Expression left, Expression right) => Expression.Call(compare, left, right);
            var zero = Expression.Constant(0);
            var beyond = descending
                ? Expression.OrElse(Expression.LessThan(Cmp(keyBody, valueParameter), zero), Expression.AndAlso(Expression.Equal(keyBody, valueParameter), Expression.LessThan(Cmp(name, lastParameter), zero)))
                : Expression.OrElse(Expression.GreaterThan(Cmp(keyBody, valueParameter), zero), Expression.AndAlso(Expression.Equal(keyBody, valueParameter), Expression.GreaterThan(Cmp(name, lastParameter), zero)));
            users = users.Where(Expression.Lambda<Func<User, bool>>(beyond, u));
        }

        return descending
            ? users.OrderByDescending(order).ThenByDescending(x => x.NormalizedUsername)
            : users.OrderBy(order).ThenBy(x => x.NormalizedUsername);
    }

    private static IQueryable<User> PageByCreatedAt(IQueryable<User> users, bool descending, Cursor? after)
    {
        if (after is not null)
        {
            var at = new DateTime(long.Parse(after.Value, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc);
            var last = after.Username;
            users = descending
                ? users.Where(u => u.CreatedAt < at || (u.CreatedAt == at && string.Compare(u.NormalizedUsername, last) < 0))
                : users.Where(u => u.CreatedAt > at || (u.CreatedAt == at && string.Compare(u.NormalizedUsername, last) > 0));
        }

        return descending
            ? users.OrderByDescending(u => u.CreatedAt).ThenByDescending(u => u.NormalizedUsername)
            : users.OrderBy(u => u.CreatedAt).ThenBy(u => u.NormalizedUsername);
    }

    private sealed record KeysetPosition(string Value, string Last);

    /// <summary>
    /// An opaque position: the sort it belongs to, a row's sort value and username, and for a previousCursor a fourth
    /// part, "before": the page is the one that ends just before that row. A nextCursor has three parts, as it always had.
    /// </summary>
    private sealed record Cursor(string Sort, string Value, string Username, bool Backward = false)
    {
        private const string Before = "before";

        public string Encode() => WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(
            Backward ? new[] { Sort, Value, Username, Before } : new[] { Sort, Value, Username }));

        public static bool TryDecode(string encoded, string sort, out Cursor? cursor)
        {
            cursor = null;
            try
            {
                var parts = JsonSerializer.Deserialize<string[]>(Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(encoded)));
                // Values that no page of users could end on are refused here, not by the database: a creation time out of
                // DateTime's range, or text no stored key holds (control characters, which PostgreSQL cannot even take).
                if (parts is { Length: 3 or 4 } && parts[0] == sort && parts[1] is not null && parts[2] is not null
                    && (parts.Length == 3 || parts[3] == Before)
                    && parts.Skip(1).Take(2).All(p => !Http.StrictRequests.HasControlCharacter(p) && !Http.StrictRequests.HasLoneSurrogate(p))
                    && (!sort.TrimStart('-').Equals("createdAt", StringComparison.OrdinalIgnoreCase)
                        || (long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks) && ticks <= DateTime.MaxValue.Ticks)))
                {
                    cursor = new Cursor(parts[0], parts[1], parts[2], parts.Length == 4);
                    return true;
                }
            }
            catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
            {
            }

            return false;
        }
    }
}
