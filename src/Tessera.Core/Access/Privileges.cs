namespace Tessera.Core.Access;

/// <summary>The catalog of privileges a role can grant; each guards a family of functions.</summary>
public static class Privileges
{
    public const string ManageUsers = "MANAGE_USERS";
    public const string ViewUsers = "VIEW_USERS";
    public const string ManageRoles = "MANAGE_ROLES";
    public const string ViewRoles = "VIEW_ROLES";
    public const string ManageGroups = "MANAGE_GROUPS";
    public const string ManagePasswordPolicy = "MANAGE_PASSWORD_POLICY";
    public const string ManageAuthenticationPolicy = "MANAGE_AUTHENTICATION_POLICY";
    public const string ViewAuditLog = "VIEW_AUDIT_LOG";
    public const string ManageCustomers = "MANAGE_CUSTOMERS";
    public const string AgentAssist = "AGENT_ASSIST";
    public const string ManageResources = "MANAGE_RESOURCES";
    public const string Authorize = "AUTHORIZE";
    public const string ManageGovernance = "MANAGE_GOVERNANCE";
    public const string ApproveChanges = "APPROVE_CHANGES";
    public const string ReviewAccess = "REVIEW_ACCESS";
    public const string ManageWebhooks = "MANAGE_WEBHOOKS";

    /// <summary>Every privilege with a line that tells an administrator what it allows.</summary>
    public static readonly IReadOnlyList<(string Name, string Description)> Catalog =
    [
        (ManageUsers, "Create, change, lock and delete users; set their passwords and roles."),
        (ViewUsers, "See users, their roles, groups and effective permissions."),
        (ManageRoles, "Create, change and delete roles; import and export role definitions."),
        (ViewRoles, "See roles, their privileges and permission rules."),
        (ManageGroups, "Create, change and delete groups and their members."),
        (ManagePasswordPolicy, "Change the company password policy."),
        (ManageAuthenticationPolicy, "Change the multi-factor authentication policy: who needs a second factor, step-up, trust in SSO providers."),
        (ViewAuditLog, "Read the audit log."),
        (ManageCustomers, "Manage storefront customers."),
        (AgentAssist, "Act on a storefront customer's behalf."),
        (ManageResources, "Register the resources and actions that permission rules name."),
        (Authorize, "Ask whether a user may do something (for other back-office services)."),
        (ManageGovernance, "Define separation-of-duties constraints, the approval policy and access-review campaigns."),
        (ApproveChanges, "Approve or reject changes that another user sent for four-eyes approval."),
        (ReviewAccess, "Read the access report of every user's privileges and their sources."),
        (ManageWebhooks, "Subscribe other systems to audit events (webhooks) and read their delivery log."),
    ];

    public static bool Exists(string name) => Catalog.Any(p => p.Name == name);
}

/// <summary>The roles that every installation has and nobody may delete or rename.</summary>
public static class BuiltInRoles
{
    /// <summary>Holds every privilege.</summary>
    public const string Administrator = "Administrator";

    /// <summary>Marks API users: an API user always holds it, a BackOffice user never.</summary>
    public const string System = "System";

    public static bool IsBuiltIn(string name)
        => string.Equals(name, Administrator, StringComparison.OrdinalIgnoreCase)
        || string.Equals(name, System, StringComparison.OrdinalIgnoreCase);
}
