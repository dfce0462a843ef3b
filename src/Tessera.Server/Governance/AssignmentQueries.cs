using System.Linq.Expressions;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// <see cref="Tessera.Core.Governance.Validity.IsValidAt"/> as EF Core expressions, so that a query keeps only the
/// role grants and memberships that count at <c>now</c> (from inclusive, until exclusive; a null end is open).
/// </summary>
public static class AssignmentQueries
{
    public static Expression<Func<UserRole, bool>> RoleValidAt(DateTime now)
        => r => (r.ValidFrom == null || r.ValidFrom <= now) && (r.ValidUntil == null || r.ValidUntil > now);

    public static Expression<Func<GroupMember, bool>> MemberValidAt(DateTime now)
        => m => (m.ValidFrom == null || m.ValidFrom <= now) && (m.ValidUntil == null || m.ValidUntil > now);

    /// <summary>Grants that count now or will later: only those whose end has passed are left out.</summary>
    public static Expression<Func<UserRole, bool>> RoleNotLapsedAt(DateTime now) => r => r.ValidUntil == null || r.ValidUntil > now;

    public static Expression<Func<GroupMember, bool>> MemberNotLapsedAt(DateTime now) => m => m.ValidUntil == null || m.ValidUntil > now;

    /// <summary>The role grants valid at <paramref name="now"/>.</summary>
    public static IQueryable<UserRole> RolesValidAt(this TesseraDbContext db, DateTime now) => db.UserRoles.Where(RoleValidAt(now));

    /// <summary>The group memberships valid at <paramref name="now"/>.</summary>
    public static IQueryable<GroupMember> MembershipsValidAt(this TesseraDbContext db, DateTime now) => db.GroupMembers.Where(MemberValidAt(now));
}
