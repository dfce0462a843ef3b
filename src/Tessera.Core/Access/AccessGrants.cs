namespace Tessera.Core.Access;

/// <summary>Where a user's privilege or rule comes from: a role held directly (<paramref name="Group"/> null) or through a group.</summary>
public sealed record AccessSource(string Role, string? Group)
{
    /// <summary>"role Editors" or "role Editors via group Shop", for reasons shown to administrators.</summary>
    public string Describe() => Group is null ? $"role {Role}" : $"role {Role} via group {Group}";
}

/// <summary>One role a user holds, directly or through <paramref name="ViaGroup"/>, with what that role grants.</summary>
public sealed record RoleGrant(
    string RoleName,
    IReadOnlyCollection<string> Privileges,
    IReadOnlyCollection<PermissionRule> Rules,
    string? ViaGroup = null);

/// <summary>A permission rule a user holds, with the role (and group) that gives it to them.</summary>
public sealed record GrantedRule(PermissionRule Rule, AccessSource Source);

/// <summary>The answer to "may this user do that?", with the reason, and the rule and source that decided it.</summary>
/// <param name="MatchedRule">Null when no rule matched (default deny) or the question was malformed.</param>
public sealed record AccessDecision(bool Allowed, string Reason, PermissionRule? MatchedRule, AccessSource? Source);
