using System.Globalization;
using System.Text;
using Tessera.Core.Access;
using Tessera.Server.Roles;

namespace Tessera.Server.BackOffice;

/// <summary>
/// One role checkbox of a form. It is disabled, with its reason beside it, when ticking it would hand out
/// privileges beyond the signed-in user's own (the privilege ceiling of <see cref="Delegation"/>). A role
/// already held stays enabled: taking away is never capped. The server judges again on every change.
/// </summary>
public sealed record RoleToggle(string Name, bool Checked, IReadOnlyList<string> Beyond)
{
    /// <summary>A short remark shown after the name (the System role's on the "Add user" form).</summary>
    public string? Note { get; init; }

    public bool Disabled => Beyond.Count > 0;

    /// <summary>The id of the element that says why the toggle is disabled, named after the role.</summary>
    public string ReasonId => "role-reason-" + Toggles.DomId(Name);

    public string Reason => $"beyond your own privileges ({string.Join(", ", Beyond)})";

    public bool IsSystem => string.Equals(Name, BuiltInRoles.System, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One privilege checkbox of the role form, disabled when the signed-in user may not hand it out.</summary>
public sealed record PrivilegeToggle(string Name, string Description, bool Checked, bool Disabled)
{
    public string ReasonId => "privilege-reason-" + Toggles.DomId(Name);

    public const string Reason = "beyond your own privileges";
}

/// <summary>Builds the toggles of the role and privilege checkboxes from the caller's standing.</summary>
public static class Toggles
{
    /// <param name="roles">Every role, in the order shown.</param>
    /// <param name="ticked">The roles ticked in the form.</param>
    /// <param name="held">The roles the user or group holds now; these are never disabled.</param>
    /// <param name="ceiling">The caller's privileges; null when the form is read-only anyway and nothing is judged.</param>
    public static IReadOnlyList<RoleToggle> Roles(IEnumerable<RoleResponse> roles, IEnumerable<string> ticked, IEnumerable<string> held, IReadOnlySet<string>? ceiling)
    {
        var tickedSet = ticked.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var heldSet = held.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return [.. roles.Select(role => new RoleToggle(role.Name, tickedSet.Contains(role.Name),
            ceiling is null || heldSet.Contains(role.Name) ? [] : Delegation.Beyond(ceiling, role.Privileges)))];
    }

    /// <param name="catalog">Every privilege, in the order shown.</param>
    /// <param name="ticked">The privileges ticked in the form.</param>
    /// <param name="held">The privileges the role has now; these are never disabled.</param>
    /// <param name="ceiling">The caller's privileges; null when the form is read-only anyway.</param>
    public static IReadOnlyList<PrivilegeToggle> Privileges(IEnumerable<PrivilegeResponse> catalog, IEnumerable<string> ticked, IEnumerable<string> held, IReadOnlySet<string>? ceiling)
    {
        var tickedSet = ticked.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var heldSet = held.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return [.. catalog.Select(p => new PrivilegeToggle(p.Name, p.Description, tickedSet.Contains(p.Name),
            ceiling is not null && !heldSet.Contains(p.Name) && !Delegation.Dominates(ceiling, [p.Name])))];
    }

    /// <summary>
    /// A name as part of an element id. Letters, digits, '_' and '-' stay, so that MANAGE_USERS and
    /// "Sales-Team" read as themselves; any other character becomes its hex code between two '·' (U+00B7),
    /// so "Sales Team" gives "Sales·20·Team". No two names give the same id, none has a space
    /// (aria-describedby is a list of ids separated by spaces), and each is a CSS identifier.
    /// </summary>
    public static string DomId(string name)
    {
        var id = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            {
                id.Append(c);
            }
            else
            {
                id.Append('·').Append(((int)c).ToString("x", CultureInfo.InvariantCulture)).Append('·');
            }
        }

        return id.ToString();
    }
}
