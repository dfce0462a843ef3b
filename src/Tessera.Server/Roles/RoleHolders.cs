using System.ComponentModel;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.Roles;

/// <summary>
/// One holding of a role: a user holding it directly (<c>via</c> "direct", the validity of the assignment) or as a
/// member of a group that has it (<c>via</c> "group", the group, the validity of the membership). <c>state</c> is
/// active, pending (not yet begun) or expired.
/// </summary>
public sealed record RoleHolder(Guid UserId, string Username, string Type, string Via, Guid? GroupId, string? Group, DateTime? ValidFrom, DateTime? ValidUntil, string State);

/// <summary>One page of a role's holders and the cursor of the next, or null at the end.</summary>
public sealed record RoleHolderPage(IReadOnlyList<RoleHolder> Items, string? NextCursor);

public sealed record RoleHolderQuery(
    [property: Description("Holders per page: 1 to 200, 50 when left out.")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);

/// <summary>
/// Who holds a role: direct assignments and group memberships as one list, by username, then direct before group,
/// then group name. Keyset paging on that order, so a deep page costs what the first does; one query a page.
/// </summary>
public sealed class RoleHolders(TesseraDbContext db, TimeProvider clock)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
    public const string Direct = "direct";
    public const string ViaGroup = "group";

    public async Task<Outcome<RoleHolderPage>> ListAsync(Guid roleId, RoleHolderQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        Position? after = null;
        if (query.Cursor is not null && !TryDecode(query.Cursor, out after))
        {
            errors["cursor"] = [Http.Paging.CursorMessage];
        }

        if (errors.Count > 0)
        {
            return Http.Paging.Refuse(errors);
        }

        if (!await db.Roles.AnyAsync(r => r.Id == roleId, ct))
        {
            return Failure.NotFound($"No role has the id {roleId}.");
        }

        var direct = db.UserRoles.Where(ur => ur.RoleId == roleId)
            .Join(db.Users, ur => ur.UserId, u => u.Id, (ur, u) => new Row
            {
                UserId = u.Id, Username = u.Username, Key = u.NormalizedUsername, Type = u.Type, Via = Direct, GroupKey = "",
                GroupId = null, Group = null, ValidFrom = ur.ValidFrom, ValidUntil = ur.ValidUntil,
            });
        var throughGroups =
            from gr in db.GroupRoles
            where gr.RoleId == roleId
            join g in db.Groups on gr.GroupId equals g.Id
            join m in db.GroupMembers on g.Id equals m.GroupId
            join u in db.Users on m.UserId equals u.Id
            select new Row
            {
                UserId = u.Id, Username = u.Username, Key = u.NormalizedUsername, Type = u.Type, Via = ViaGroup, GroupKey = g.NormalizedName,
                GroupId = g.Id, Group = g.Name, ValidFrom = m.ValidFrom, ValidUntil = m.ValidUntil,
            };

        var holders = direct.Concat(throughGroups);
        if (after is { } a)
        {
            holders = holders.Where(h => string.Compare(h.Key, a.Key) > 0
                || (h.Key == a.Key && (string.Compare(h.Via, a.Via) > 0 || (h.Via == a.Via && string.Compare(h.GroupKey, a.GroupKey) > 0))));
        }

        var page = await holders.OrderBy(h => h.Key).ThenBy(h => h.Via).ThenBy(h => h.GroupKey).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            var last = page[^1];
            next = WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(new[] { last.Key, last.Via, last.GroupKey }));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        return Outcome<RoleHolderPage>.Ok(new RoleHolderPage(
            [.. page.Select(h => new RoleHolder(h.UserId, h.Username, h.Type.ToString(), h.Via, h.GroupId, h.Group, h.ValidFrom, h.ValidUntil,
                new Validity(h.ValidFrom, h.ValidUntil).StateAt(now)))],
            next));
    }

    private static bool TryDecode(string cursor, out Position? position)
    {
        position = null;
        try
        {
            if (JsonSerializer.Deserialize<string[]>(WebEncoders.Base64UrlDecode(cursor)) is [var key, var via and (Direct or ViaGroup), var group] && key.Length > 0 && group is not null)
            {
                position = new Position(key, via, group);
                return true;
            }
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
        }

        return false;
    }

    private readonly record struct Position(string Key, string Via, string GroupKey);

    /// <summary>The shape both halves of the list share, so that the database pages over their union.</summary>
    private sealed class Row
    {
        public Guid UserId { get; init; }
        public string Username { get; init; } = "";
        public string Key { get; init; } = "";
        public Core.Users.UserType Type { get; init; }
        public string Via { get; init; } = "";
        public string GroupKey { get; init; } = "";
        public Guid? GroupId { get; init; }
        public string? Group { get; init; }
        public DateTime? ValidFrom { get; init; }
        public DateTime? ValidUntil { get; init; }
    }
}
