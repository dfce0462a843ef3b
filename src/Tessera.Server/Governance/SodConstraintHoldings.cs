using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// The queries behind separation of duties: who holds which constrained role, by the rule of
/// <see cref="SeparationOfDuties"/> (directly or through a group; an assignment counts until its validUntil
/// has passed, so a grant that starts later counts already).
/// </summary>
public static class SodConstraintHoldings
{
    /// <summary>How many violating users a refusal lists at most; it also says how many there are in all.</summary>
    public const int ListedViolations = 100;

    /// <summary>Every constraint as a rule over role names; empty (one cheap query) when there are none.</summary>
    public static async Task<List<SodConstraintRule>> RulesAsync(TesseraDbContext db, CancellationToken ct)
    {
        var rows = await db.SodConstraints.AsNoTracking()
            .Select(c => new { c.Id, c.Name, c.MaxHeld, Roles = c.Roles.Select(r => r.Role!.Name).ToList() })
            .ToListAsync(ct);
        return [.. rows.Select(r => new SodConstraintRule(r.Id, r.Name, r.Roles, r.MaxHeld))];
    }

    /// <summary>
    /// The checked invariant, over the users a change touched: the first constraint one of them breaks, as a
    /// 409 <c>sod_violation</c> naming the user, the constraint and the roles; null when none does.
    /// </summary>
    public static async Task<Failure?> CheckUsersAsync(TesseraDbContext db, IReadOnlyCollection<Guid> userIds, DateTime now, CancellationToken ct)
    {
        if (userIds.Count == 0)
        {
            return null;
        }

        var rules = await RulesAsync(db, ct);
        if (rules.Count == 0)
        {
            return null;
        }

        var constrained = rules.SelectMany(r => r.Roles).Distinct(StringComparer.OrdinalIgnoreCase).Select(n => n.ToUpperInvariant()).ToList();
        var roleIds = await db.Roles.Where(r => constrained.Contains(r.NormalizedName)).Select(r => r.Id).ToListAsync(ct);
        foreach (var chunk in userIds.Chunk(1000))
        {
            var held = await HeldAsync(db, roleIds, [.. chunk], now, ct);
            foreach (var (userId, roles) in held)
            {
                if (SeparationOfDuties.Violations(rules, roles) is [var violation, ..])
                {
                    var username = await db.Users.Where(u => u.Id == userId).Select(u => u.Username).SingleAsync(ct);
                    return Violation(username, violation);
                }
            }
        }

        return null;
    }

    public static Failure Violation(string username, SodViolation violation) => new(FailureKind.Conflict, "sod_violation",
        $"{username} would hold {string.Join(", ", violation.Roles)}: the separation-of-duties constraint '{violation.Constraint}' allows at most {violation.MaxHeld} of its roles.")
    {
        Extensions = new Dictionary<string, object?>
        {
            ["constraint"] = violation.Constraint,
            ["constraintId"] = violation.ConstraintId,
            ["roles"] = violation.Roles,
            ["username"] = username,
        },
    };

    /// <summary>
    /// The users who already hold more than <paramref name="maxHeld"/> of <paramref name="roleIds"/>: the first
    /// <see cref="ListedViolations"/> (by id) with their roles, and how many there are in all. Counted in the database.
    /// </summary>
    public static async Task<(List<SodHolderResponse> Listed, int Total)> ExistingViolationsAsync(TesseraDbContext db, List<Guid> roleIds, int maxHeld, DateTime now, CancellationToken ct)
    {
        var direct = db.UserRoles.Where(r => roleIds.Contains(r.RoleId) && (r.ValidUntil == null || r.ValidUntil > now))
            .Select(r => new { r.UserId, r.RoleId });
        var throughGroups = db.GroupMembers.Where(m => m.ValidUntil == null || m.ValidUntil > now)
            .Join(db.GroupRoles.Where(g => roleIds.Contains(g.RoleId)), m => m.GroupId, g => g.GroupId, (m, g) => new { m.UserId, g.RoleId });
        var violators = direct.Union(throughGroups).GroupBy(h => h.UserId).Where(g => g.Count() > maxHeld).Select(g => g.Key);
        var total = await violators.CountAsync(ct);
        if (total == 0)
        {
            return ([], 0);
        }

        var ids = await violators.OrderBy(id => id).Take(ListedViolations).ToListAsync(ct);
        var held = await HeldAsync(db, roleIds, ids, now, ct);
        var names = await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Username, ct);
        return ([.. ids.Select(id => new SodHolderResponse(id, names.GetValueOrDefault(id, ""), [.. held.GetValueOrDefault(id, []).Order(StringComparer.OrdinalIgnoreCase)]))], total);
    }

    /// <summary>The names of the given roles that each of the given users holds (now or later, directly or through a group).</summary>
    private static async Task<Dictionary<Guid, HashSet<string>>> HeldAsync(TesseraDbContext db, List<Guid> roleIds, List<Guid> userIds, DateTime now, CancellationToken ct)
    {
        var direct = await db.UserRoles.Where(r => userIds.Contains(r.UserId) && roleIds.Contains(r.RoleId) && (r.ValidUntil == null || r.ValidUntil > now))
            .Select(r => new { r.UserId, r.Role!.Name }).ToListAsync(ct);
        var throughGroups = await db.GroupMembers.Where(m => userIds.Contains(m.UserId) && (m.ValidUntil == null || m.ValidUntil > now))
            .Join(db.GroupRoles.Where(g => roleIds.Contains(g.RoleId)), m => m.GroupId, g => g.GroupId, (m, g) => new { m.UserId, g.Role!.Name })
            .ToListAsync(ct);
        var held = new Dictionary<Guid, HashSet<string>>();
        foreach (var row in direct.Concat(throughGroups))
        {
            if (!held.TryGetValue(row.UserId, out var set))
            {
                held[row.UserId] = set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            }

            set.Add(row.Name);
        }

        return held;
    }

    /// <summary>409 <c>role_in_sod_constraint</c> when a constraint names one of the roles (which cannot be deleted from under it).</summary>
    public static async Task<Failure?> RoleInUseAsync(TesseraDbContext db, IReadOnlyCollection<Guid> roleIds, CancellationToken ct)
    {
        if (roleIds.Count == 0)
        {
            return null;
        }

        var ids = roleIds.ToList();
        var use = await db.SodConstraintRoles.Where(r => ids.Contains(r.RoleId))
            .Join(db.SodConstraints, r => r.ConstraintId, c => c.Id, (r, c) => new { Role = r.Role!.Name, Constraint = c.Name, c.Id })
            .OrderBy(u => u.Constraint).FirstOrDefaultAsync(ct);
        return use is null ? null : new Failure(FailureKind.Conflict, "role_in_sod_constraint",
            $"The role {use.Role} is named by the separation-of-duties constraint '{use.Constraint}'; change or delete the constraint first.")
        {
            Extensions = new Dictionary<string, object?> { ["constraint"] = use.Constraint, ["constraintId"] = use.Id, ["role"] = use.Role },
        };
    }
}
