using Tessera.Core.Access;

namespace Tessera.Core.Credentials;

/// <summary>Who must prove a second factor at sign-in (`required` of <see cref="MfaPolicy"/>).</summary>
public static class MfaRequirement
{
    /// <summary>Nobody is obliged; a user who enrolled a method is still asked for it.</summary>
    public const string None = "none";

    /// <summary>Anyone who can change the directory, approve or act as a customer: the holders of power.</summary>
    public const string Privileged = "privileged";

    /// <summary>Every Back Office user.</summary>
    public const string All = "all";

    public static readonly IReadOnlyList<string> Values = [None, Privileged, All];
}

/// <summary>
/// The company's multi-factor authentication policy. The default requires a second factor of privileged users,
/// as Entra's security defaults do for administrators: the accounts an attacker wants most are the ones that
/// can change everyone else's.
/// </summary>
public sealed record MfaPolicy
{
    public static MfaPolicy Default { get; } = new();

    /// <summary>`none`, `privileged` or `all` (<see cref="MfaRequirement"/>).</summary>
    public string Required { get; init; } = MfaRequirement.Privileged;

    /// <summary>Holders of any of these roles (by name, ignoring case) need a second factor whatever <see cref="Required"/> says.</summary>
    public IReadOnlyList<string> RequiredRoles { get; init; } = [];

    /// <summary>How long a second factor counts as fresh for sensitive Back Office actions (step-up).</summary>
    public int StepUpMinutes { get; init; } = 15;

    /// <summary>A user who signs in through SSO is never asked for Tessera's own second factor: the provider's stands.</summary>
    public bool TrustProviderMfa { get; init; } = true;

    /// <summary>Whether the policy leaves a user's second factor to their SSO provider (an SSO user, while the provider's MFA is trusted).</summary>
    public bool LeavesToProvider(bool ssoUser) => ssoUser && TrustProviderMfa;

    /// <summary>
    /// Whether a privilege set counts as privileged: any MANAGE_* (changes the directory or its policies),
    /// any APPROVE_* (a second pair of eyes must itself be sure), or AGENT_ASSIST (acts as a customer).
    /// </summary>
    public static bool IsPrivileged(IEnumerable<string> privileges)
        => privileges.Any(p => p.StartsWith("MANAGE_", StringComparison.Ordinal) || p.StartsWith("APPROVE_", StringComparison.Ordinal) || p == Privileges.AgentAssist);

    /// <summary>
    /// Whether this policy obliges a user holding these effective privileges and roles to use a second factor.
    /// A user who enrolled voluntarily is asked anyway; that is the caller's rule, not the policy's.
    /// </summary>
    public bool Requires(IEnumerable<string> privileges, IEnumerable<string> roles)
    {
        if (Required == MfaRequirement.All)
        {
            return true;
        }

        if (RequiredRoles.Count > 0 && roles.Any(r => RequiredRoles.Contains(r, StringComparer.OrdinalIgnoreCase)))
        {
            return true;
        }

        return Required == MfaRequirement.Privileged && IsPrivileged(privileges);
    }

    /// <summary>What is wrong with this policy, keyed by camelCase field name; empty when it is acceptable.</summary>
    public IReadOnlyDictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (Required is null || !MfaRequirement.Values.Contains(Required, StringComparer.Ordinal))
        {
            errors["required"] = ["Must be none, privileged or all."];
        }

        // A step-up window of at least a minute (a prompt on every click helps nobody), at most the longest session.
        if (StepUpMinutes is < 1 or > 720)
        {
            errors["stepUpMinutes"] = ["Must be between 1 and 720."];
        }

        if (RequiredRoles is null)
        {
            errors["requiredRoles"] = ["Must be a list of role names (possibly empty)."];
        }
        else if (RequiredRoles.Count > 100 || RequiredRoles.Any(r => string.IsNullOrWhiteSpace(r) || r.Length > 100))
        {
            errors["requiredRoles"] = ["Must hold at most 100 role names, none empty or longer than 100 characters."];
        }

        return errors;
    }
}
