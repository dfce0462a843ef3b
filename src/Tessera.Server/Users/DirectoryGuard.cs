using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>
/// The directory's invariants, checked in one place against the saved-but-uncommitted state of a
/// directory transaction (see <see cref="DirectoryTransaction"/>), whatever path made the change:
/// a BackOffice user never holds System (directly or through a group, now or by a grant yet to begin), an API
/// user holds it now, nobody breaks a separation-of-duties constraint, and at least one active user keeps
/// MANAGE_USERS by a grant without an end.
/// </summary>
public static class DirectoryGuard
{
    public static async Task<Failure?> CheckAsync(TesseraDbContext db, IReadOnlyCollection<Guid> affectedUsers, DateTime now, CancellationToken ct)
    {
        if (affectedUsers.Count > 0)
        {
            var system = await SystemRoleIdAsync(db, ct);
            var ids = affectedUsers.ToList();
            // Time-bound access: an API user must hold System now; a BackOffice user may not hold it now or later
            // (a grant that has not begun would otherwise give it with no change passing this guard).
            var rolesNow = db.UserRoles.Where(AssignmentQueries.RoleValidAt(now));
            var membershipsNow = db.GroupMembers.Where(AssignmentQueries.MemberValidAt(now));
            var rolesAhead = db.UserRoles.Where(AssignmentQueries.RoleNotLapsedAt(now));
            var membershipsAhead = db.GroupMembers.Where(AssignmentQueries.MemberNotLapsedAt(now));
            var standing = await db.Users.Where(u => ids.Contains(u.Id)).Select(u => new
            {
                u.Username,
                u.Type,
                HoldsSystem = rolesNow.Any(r => r.UserId == u.Id && r.RoleId == system)
                    || membershipsNow.Any(m => m.UserId == u.Id && db.GroupRoles.Any(g => g.GroupId == m.GroupId && g.RoleId == system)),
                HoldsSystemNowOrLater = rolesAhead.Any(r => r.UserId == u.Id && r.RoleId == system)
                    || membershipsAhead.Any(m => m.UserId == u.Id && db.GroupRoles.Any(g => g.GroupId == m.GroupId && g.RoleId == system)),
            }).ToListAsync(ct);

            if (standing.FirstOrDefault(u => u.Type == UserType.BackOffice && u.HoldsSystemNowOrLater) is { } backOffice)
            {
                return Failure.Conflict("system_role_forbidden", $"{backOffice.Username} is a BackOffice user and cannot hold the System role, directly or through a group.");
            }

            if (standing.FirstOrDefault(u => u.Type == UserType.Api && !u.HoldsSystem) is { } api)
            {
                return Failure.Conflict("system_role_required", $"{api.Username} is an API user and must hold the System role.");
            }

            if (await CheckSeparationOfDutiesAsync(db, ids, now, ct) is { } sod)
            {
                return sod;
            }
        }

        return await CheckLastAdministratorAsync(db, now, ct);
    }

    /// <summary>
    /// No affected user may hold more of a separation-of-duties constraint's roles than it allows (directly or through
    /// groups, counting grants valid now or later). Without constraints this costs one query on an empty table.
    /// </summary>
    public static Task<Failure?> CheckSeparationOfDutiesAsync(TesseraDbContext db, IReadOnlyCollection<Guid> affectedUsers, DateTime now, CancellationToken ct)
        => Governance.SodConstraintHoldings.CheckUsersAsync(db, affectedUsers, now, ct);

    /// <summary>
    /// At least one non-reserved user who may act now (active, or past a lockout) must keep MANAGE_USERS, or nobody
    /// could ever manage users again. Only a grant (or membership) valid now and without an end counts: otherwise the
    /// directory could run out of administrators by time passing alone, with no change for this guard to refuse.
    /// </summary>
    public static async Task<Failure?> CheckLastAdministratorAsync(TesseraDbContext db, DateTime now, CancellationToken ct)
    {
        var managing = db.RolePrivileges.Where(p => p.Privilege == Privileges.ManageUsers).Select(p => p.RoleId);
        var lastingRoles = db.UserRoles.Where(AssignmentQueries.RoleValidAt(now)).Where(r => r.ValidUntil == null);
        var lastingMemberships = db.GroupMembers.Where(AssignmentQueries.MemberValidAt(now)).Where(m => m.ValidUntil == null);
        var any = await db.Users.Where(UserLifecycleQueries.MayActAt(now)).AnyAsync(u => u.NormalizedUsername != Usernames.ReservedNormalized
            && (lastingRoles.Any(r => r.UserId == u.Id && managing.Contains(r.RoleId))
                || lastingMemberships.Any(m => m.UserId == u.Id && db.GroupRoles.Any(g => g.GroupId == m.GroupId && managing.Contains(g.RoleId)))), ct);
        return any ? null : Failure.Conflict("last_admin", "This would leave no active user holding MANAGE_USERS without an end date.");
    }

    public static async Task<Guid> SystemRoleIdAsync(TesseraDbContext db, CancellationToken ct)
    {
        var normalized = BuiltInRoles.System.ToUpperInvariant();
        return await db.Roles.Where(r => r.NormalizedName == normalized).Select(r => r.Id).SingleAsync(ct);
    }

    public static Failure Reserved() => Failure.Conflict("reserved_user", $"{Usernames.Reserved} is reserved: it cannot be changed, deleted, or given roles or groups.");

    /// <summary>Resolves role names (ignoring case) or fails with unknown_role naming the first unknown one.</summary>
    public static async Task<Outcome<List<Role>>> ResolveRolesAsync(TesseraDbContext db, IEnumerable<string>? names, CancellationToken ct)
    {
        var wanted = (names ?? []).Where(n => !string.IsNullOrWhiteSpace(n)).Select(n => n.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var normalized = wanted.Select(n => n.ToUpperInvariant()).ToList();
        var found = await db.Roles.Where(r => normalized.Contains(r.NormalizedName)).ToListAsync(ct);
        var missing = wanted.FirstOrDefault(n => found.All(r => !string.Equals(r.NormalizedName, n, StringComparison.OrdinalIgnoreCase)));
        return missing is null ? Outcome<List<Role>>.Ok(found) : Failure.Conflict("unknown_role", $"There is no role named '{missing}'.");
    }

    public static async Task<Outcome<List<Group>>> ResolveGroupsAsync(TesseraDbContext db, IEnumerable<string>? names, CancellationToken ct)
    {
        var wanted = (names ?? []).Where(n => !string.IsNullOrWhiteSpace(n)).Select(n => n.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var normalized = wanted.Select(n => n.ToUpperInvariant()).ToList();
        var found = await db.Groups.Where(g => normalized.Contains(g.NormalizedName)).ToListAsync(ct);
        var missing = wanted.FirstOrDefault(n => found.All(g => !string.Equals(g.NormalizedName, n, StringComparison.OrdinalIgnoreCase)));
        return missing is null ? Outcome<List<Group>>.Ok(found) : Failure.Conflict("unknown_group", $"There is no group named '{missing}'.");
    }
}
