namespace Tessera.Core.Governance;

/// <summary>A separation-of-duties constraint: nobody may hold more than <see cref="MaxHeld"/> of <see cref="Roles"/>.</summary>
public sealed record SodConstraintRule(Guid Id, string Name, IReadOnlyCollection<string> Roles, int MaxHeld);

/// <summary>A user holding more of a constraint's roles than it allows.</summary>
public sealed record SodViolation(Guid ConstraintId, string Constraint, int MaxHeld, IReadOnlyList<string> Roles);

/// <summary>
/// The rule of separation of duties. A role counts as held whether it is granted directly or through a
/// group, and whether its assignment is valid now or only later: a future grant is a grant already
/// decided, and two toxic roles must not overlap at any time. Only an assignment that has ended no longer counts.
/// </summary>
public static class SeparationOfDuties
{
    public const int MaxNameLength = 100;

    /// <summary>The constraints <paramref name="heldRoles"/> (role names, any case) break, each with the roles that break it.</summary>
    public static IReadOnlyList<SodViolation> Violations(IEnumerable<SodConstraintRule> constraints, IReadOnlyCollection<string> heldRoles)
    {
        List<SodViolation>? found = null;
        foreach (var constraint in constraints)
        {
            var held = constraint.Roles.Where(r => heldRoles.Contains(r, StringComparer.OrdinalIgnoreCase))
                .Order(StringComparer.OrdinalIgnoreCase).ToList();
            if (held.Count > constraint.MaxHeld)
            {
                (found ??= []).Add(new SodViolation(constraint.Id, constraint.Name, constraint.MaxHeld, held));
            }
        }

        return found ?? (IReadOnlyList<SodViolation>)[];
    }

    /// <summary>Why a constraint is refused as input, or null when it is well formed.</summary>
    public static string? Problem(string? name, IReadOnlyCollection<string>? roles, int maxHeld)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > MaxNameLength)
        {
            return $"name is required, at most {MaxNameLength} characters.";
        }

        var distinct = (roles ?? []).Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).Count();
        if (distinct < 2)
        {
            return "roles must name at least two different roles.";
        }

        if (maxHeld < 1 || maxHeld >= distinct)
        {
            return $"maxHeld must be at least 1 and less than the number of roles ({distinct}).";
        }

        return null;
    }
}
