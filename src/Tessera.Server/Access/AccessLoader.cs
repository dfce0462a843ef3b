using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Governance;
using Tessera.Server.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.Access;

/// <summary>A user's effective access at an instant, and when it next changes by the validity of their assignments.</summary>
public sealed record LoadedAccess(EffectiveAccess Access, IReadOnlyList<string> Roles, IReadOnlyList<string> Groups, DateTime? NextChange);

/// <summary>
/// Builds a user's effective access from their direct roles and their groups' roles, in three queries. Only the
/// assignments valid at <c>now</c> count (<see cref="Validity.IsValidAt"/>): a grant or membership that has ended or
/// not yet begun gives nothing, whether or not the lapse sweep has recorded it yet.
/// </summary>
public static class AccessLoader
{
    public static async Task<EffectiveAccess> LoadAsync(TesseraDbContext db, Guid userId, DateTime now, CancellationToken ct)
        => (await LoadWithValidityAsync(db, userId, now, ct)).Access;

    /// <summary>
    /// The access at <paramref name="now"/>, the names of the roles and groups valid then, and the next instant at
    /// which one of the user's assignments begins or ends (a cache of this answer must not outlive it).
    /// </summary>
    public static async Task<LoadedAccess> LoadWithValidityAsync(TesseraDbContext db, Guid userId, DateTime now, CancellationToken ct)
    {
        // The query leaves out what has ended for good; what has not begun yet is read too, for its start is the next change.
        var direct = await db.UserRoles.Where(r => r.UserId == userId).Where(AssignmentQueries.RoleNotLapsedAt(now))
            .Select(r => new { r.RoleId, RoleName = r.Role!.Name, r.ValidFrom, r.ValidUntil }).ToListAsync(ct);
        var memberships = await db.GroupMembers.Where(m => m.UserId == userId).Where(AssignmentQueries.MemberNotLapsedAt(now))
            .Select(m => new { m.GroupId, m.Group!.Name, m.ValidFrom, m.ValidUntil }).ToListAsync(ct);

        DateTime? next = null;
        foreach (var r in direct)
        {
            next = Validity.Earliest(next, new Validity(r.ValidFrom, r.ValidUntil).NextChangeAfter(now));
        }

        foreach (var m in memberships)
        {
            next = Validity.Earliest(next, new Validity(m.ValidFrom, m.ValidUntil).NextChangeAfter(now));
        }

        var validDirect = direct.Where(r => new Validity(r.ValidFrom, r.ValidUntil).IsValidAt(now)).ToList();
        var validGroups = memberships.Where(m => new Validity(m.ValidFrom, m.ValidUntil).IsValidAt(now)).ToDictionary(m => m.GroupId, m => m.Name);
        var groupIds = validGroups.Keys.ToList();
        var viaGroups = groupIds.Count == 0 ? [] : await db.GroupRoles.Where(r => groupIds.Contains(r.GroupId)).Select(r => new { r.GroupId, r.RoleId }).ToListAsync(ct);

        var sources = validDirect.Select(r => (r.RoleId, Group: (string?)null))
            .Concat(viaGroups.Select(r => (r.RoleId, Group: (string?)validGroups[r.GroupId]))).ToList();
        var roleIds = sources.Select(s => s.RoleId).Distinct().ToList();
        var roles = roleIds.Count == 0 ? [] : await db.Roles.AsNoTracking().Where(r => roleIds.Contains(r.Id))
            .Include(r => r.Privileges).Include(r => r.Permissions).AsSplitQuery().ToDictionaryAsync(r => r.Id, ct);

        var grants = new List<RoleGrant>(sources.Count);
        foreach (var source in sources.OrderBy(s => s.Group is not null).ThenBy(s => s.Group, StringComparer.Ordinal))
        {
            if (roles.TryGetValue(source.RoleId, out var role))
            {
                grants.Add(Grant(role, source.Group));
            }
        }

        return new LoadedAccess(
            EffectiveAccess.Compile(grants),
            [.. validDirect.Select(r => r.RoleName).Order(StringComparer.Ordinal)],
            [.. validGroups.Values.Order(StringComparer.Ordinal)],
            next);
    }

    public static RoleGrant Grant(Role role, string? viaGroup) => new(
        role.Name,
        role.Privileges.Select(p => p.Privilege).ToList(),
        role.Permissions.Select(p => new PermissionRule(p.Resource, p.Action, PermissionEffects.TryParse(p.Effect, out var e) ? e : PermissionEffect.Deny)).ToList(),
        viaGroup);
}
