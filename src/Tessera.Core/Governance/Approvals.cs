namespace Tessera.Core.Governance;

/// <summary>The operations the approval policy can put under four-eyes control (the policy's stable names).</summary>
public static class ApprovalOperations
{
    /// <summary>Granting a role flagged requiresApproval: to a user, through a group's roles or a group membership.</summary>
    public const string GrantRole = "grant_role";
    public const string ChangeRoleDefinition = "change_role_definition";
    public const string DeleteUser = "delete_user";
    public const string ChangePasswordPolicy = "change_password_policy";
    public const string ChangeMfaPolicy = "change_mfa_policy";
    public const string ChangeSodConstraints = "change_sod_constraints";

    public static readonly IReadOnlyList<string> All =
        [GrantRole, ChangeRoleDefinition, DeleteUser, ChangePasswordPolicy, ChangeMfaPolicy, ChangeSodConstraints];

    public static bool Exists(string name) => All.Contains(name, StringComparer.Ordinal);
}

/// <summary>The life of a change request; every state but <see cref="Pending"/> is final.</summary>
public static class ChangeRequestStatus
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Rejected = "rejected";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Withdrawn = "withdrawn";

    public static readonly IReadOnlyList<string> All = [Pending, Approved, Rejected, Failed, Expired, Withdrawn];

    public static bool Exists(string name) => All.Contains(name, StringComparer.Ordinal);
}

/// <summary>The life of an access-review campaign and the decisions on its items.</summary>
public static class AccessReviewStatus
{
    public const string Open = "open";
    public const string Closed = "closed";

    public const string Keep = "keep";
    public const string Revoke = "revoke";
}
