using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Server.Storage;

namespace Tessera.Server.Access;

/// <summary>Builds a user's effective access from their direct roles and their groups' roles, in three queries.</summary>
public static class AccessLoader
{
    public static async Task<EffectiveAccess> LoadAsync(TesseraDbContext db, Guid userId, CancellationToken ct)
    {
        var direct = await db.UserRoles.Where(r => r.UserId == userId).Select(r => new { r.RoleId, Group = (string?)null }).ToListAsync(ct);
        var viaGroups = await db.GroupMembers.Where(m => m.UserId == userId)
            .Join(db.GroupRoles, m => m.GroupId, r => r.GroupId, (m, r) => new { r.RoleId, Group = (string?)m.Group!.Name })
            .ToListAsync(ct);
        var sources = direct.Concat(viaGroups).ToList();
        var roleIds = sources.Select(s => s.RoleId).Distinct().ToList();
        var roles = await db.Roles.AsNoTracking().Where(r => roleIds.Contains(r.Id))
            .Include(r => r.Privileges).Include(r => r.Permissions).AsSplitQuery().ToDictionaryAsync(r => r.Id, ct);

        var grants = new List<RoleGrant>(sources.Count);
        foreach (var source in sources.OrderBy(s => s.Group is not null).ThenBy(s => s.Group, StringComparer.Ordinal))
        {
            if (roles.TryGetValue(source.RoleId, out var role))
            {
                grants.Add(Grant(role, source.Group));
            }
        }

        return EffectiveAccess.Compile(grants);
    }

    public static RoleGrant Grant(Role role, string? viaGroup) => new(
        role.Name,
        role.Privileges.Select(p => p.Privilege).ToList(),
        role.Permissions.Select(p => new PermissionRule(p.Resource, p.Action, PermissionEffects.TryParse(p.Effect, out var e) ? e : PermissionEffect.Deny)).ToList(),
        viaGroup);
}
