using System.Text.Json.Serialization;
using Tessera.Core.Governance;
using Tessera.Server.AgentAssist;
using Tessera.Server.Credentials;
using Tessera.Server.Governance;
using Tessera.Server.Groups;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.Changes;

/// <summary>What a directory change is aimed at: a user, role or group (its id unknown until it is created).</summary>
public sealed record ChangeTarget(string Type, Guid? Id, string? Name = null)
{
    public static ChangeTarget User(Guid id) => new("user", id);

    public static ChangeTarget Role(Guid? id, string? name = null) => new("role", id, name);

    public static ChangeTarget Group(Guid? id, string? name = null) => new("group", id, name);
}

/// <summary>
/// One intended change to the directory, as a value: who acts, on what, and what changes. Every path
/// (REST, Back Office, role import) sends it through <see cref="DirectoryPipeline"/>, which authorizes it
/// by the delegation rules, applies it, guards the invariants, audits and commits it. Being a plain,
/// serializable record, a change can also be stored and applied later (four-eyes approval), or produced
/// in bulk (bulk actions, provisioning).
/// </summary>
/// <remarks>
/// <see cref="ActorId"/> is null only for changes the service makes itself (the bootstrap).
/// Secrets are never part of the serialized value: a stored password change carries no password.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(CreateUser), "user.create")]
[JsonDerivedType(typeof(UpdateUser), "user.update")]
[JsonDerivedType(typeof(DeleteUser), "user.delete")]
[JsonDerivedType(typeof(SetUserRoles), "user.set_roles")]
[JsonDerivedType(typeof(SetPassword), "user.set_password")]
[JsonDerivedType(typeof(SendInvitation), "user.send_invitation")]
[JsonDerivedType(typeof(Unlock), "user.unlock")]
[JsonDerivedType(typeof(RevokeTokens), "user.revoke_tokens")]
[JsonDerivedType(typeof(SetAgentScope), "user.set_agent_scope")]
[JsonDerivedType(typeof(EndSessions), "user.end_sessions")]
[JsonDerivedType(typeof(CreateRole), "role.create")]
[JsonDerivedType(typeof(UpdateRole), "role.update")]
[JsonDerivedType(typeof(DeleteRole), "role.delete")]
[JsonDerivedType(typeof(ImportRoles), "role.import")]
[JsonDerivedType(typeof(CreateGroup), "group.create")]
[JsonDerivedType(typeof(UpdateGroup), "group.update")]
[JsonDerivedType(typeof(SetGroupRoles), "group.set_roles")]
[JsonDerivedType(typeof(SetGroupMembers), "group.set_members")]
[JsonDerivedType(typeof(DeleteGroup), "group.delete")]
[JsonDerivedType(typeof(ResetMfa), "user.reset_mfa")]
[JsonDerivedType(typeof(SetMfaPolicy), "mfa_policy.set")]
[JsonDerivedType(typeof(SetPasswordPolicy), "password_policy.set")]
[JsonDerivedType(typeof(SetApprovalPolicy), "approval_policy.set")]
[JsonDerivedType(typeof(AddApiCredential), "user.add_credential")]
[JsonDerivedType(typeof(DeleteApiCredential), "user.delete_credential")]
[JsonDerivedType(typeof(RevokeAccess), "access.revoke")]
[JsonDerivedType(typeof(CreateSodConstraint), "sod_constraint.create")]
[JsonDerivedType(typeof(UpdateSodConstraint), "sod_constraint.update")]
[JsonDerivedType(typeof(DeleteSodConstraint), "sod_constraint.delete")]
public abstract record DirectoryChange(Guid? ActorId)
{
    /// <summary>The audit action the change writes when it applies (and names as attempted when refused).</summary>
    [JsonIgnore]
    public abstract string Action { get; }

    [JsonIgnore]
    public abstract ChangeTarget Target { get; }

    /// <summary>
    /// The approval-policy operation (<see cref="Tessera.Core.Governance.ApprovalOperations"/>) this kind of change
    /// always falls under, or null. <c>grant_role</c> is not a kind: it depends on the roles a change grants
    /// (<see cref="ChangeScope.GrantedRoles"/>).
    /// </summary>
    [JsonIgnore]
    public virtual string? ApprovalOperation => null;
}

/// <summary>A new user; build it with <see cref="Of"/>, which keeps an API user's first secret out of the serialized request.</summary>
public sealed record CreateUser(Guid? ActorId, CreateUserRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "user.created";

    public override ChangeTarget Target => new("user", null, Request.Username);

    [JsonIgnore]
    public string? Password { get; init; }

    public static CreateUser Of(Guid? actorId, CreateUserRequest request)
        => new(actorId, request with { Password = null }) { Password = request.Password };
}

public sealed record UpdateUser(Guid? ActorId, Guid UserId, UpdateUserRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "user.updated";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record DeleteUser(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "user.deleted";

    public override string? ApprovalOperation => ApprovalOperations.DeleteUser;

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record SetUserRoles(Guid? ActorId, Guid UserId, IReadOnlyList<RoleAssignment> Roles) : DirectoryChange(ActorId)
{
    public override string Action => "user.roles_changed";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record SetPassword(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "user.password_set";

    public override ChangeTarget Target => ChangeTarget.User(UserId);

    [JsonIgnore]
    public PasswordRequest? Secret { get; init; }
}

public sealed record SendInvitation(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "user.invitation_sent";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record Unlock(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "user.unlocked";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record RevokeTokens(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "user.tokens_revoked";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

/// <summary>Ends one of a user's Back Office sessions, or all of them (<see cref="SessionId"/> null).</summary>
public sealed record EndSessions(Guid? ActorId, Guid UserId, Guid? SessionId) : DirectoryChange(ActorId)
{
    public override string Action => "user.sessions_ended";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record SetAgentScope(Guid? ActorId, Guid UserId, ChangeAgentCustomersRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "user.agent_customers_changed";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record CreateRole(Guid? ActorId, RoleRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "role.created";

    public override string? ApprovalOperation => ApprovalOperations.ChangeRoleDefinition;

    public override ChangeTarget Target => ChangeTarget.Role(null, Request.Name);
}

public sealed record UpdateRole(Guid? ActorId, Guid RoleId, RoleRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "role.updated";

    public override string? ApprovalOperation => ApprovalOperations.ChangeRoleDefinition;

    public override ChangeTarget Target => ChangeTarget.Role(RoleId);
}

public sealed record DeleteRole(Guid? ActorId, Guid RoleId) : DirectoryChange(ActorId)
{
    public override string Action => "role.deleted";

    public override string? ApprovalOperation => ApprovalOperations.ChangeRoleDefinition;

    public override ChangeTarget Target => ChangeTarget.Role(RoleId);
}

public sealed record ImportRoles(Guid? ActorId, string Mode, RoleDocument Document) : DirectoryChange(ActorId)
{
    public override string Action => "roles.imported";

    public override string? ApprovalOperation => ApprovalOperations.ChangeRoleDefinition;

    public override ChangeTarget Target => ChangeTarget.Role(null);
}

public sealed record CreateGroup(Guid? ActorId, GroupRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "group.created";

    public override ChangeTarget Target => ChangeTarget.Group(null, Request.Name);
}

public sealed record UpdateGroup(Guid? ActorId, Guid GroupId, GroupRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "group.updated";

    public override ChangeTarget Target => ChangeTarget.Group(GroupId);
}

public sealed record SetGroupRoles(Guid? ActorId, Guid GroupId, IReadOnlyList<string> Roles) : DirectoryChange(ActorId)
{
    public override string Action => "group.roles_changed";

    public override ChangeTarget Target => ChangeTarget.Group(GroupId);
}

public sealed record SetGroupMembers(Guid? ActorId, Guid GroupId, IReadOnlyList<MemberAssignment> UserIds) : DirectoryChange(ActorId)
{
    public override string Action => "group.members_changed";

    public override ChangeTarget Target => ChangeTarget.Group(GroupId);
}

public sealed record DeleteGroup(Guid? ActorId, Guid GroupId) : DirectoryChange(ActorId)
{
    public override string Action => "group.deleted";

    public override ChangeTarget Target => ChangeTarget.Group(GroupId);
}

/// <summary>An administrator removes every second factor of a user; the user enrols again at the next sign-in.</summary>
public sealed record ResetMfa(Guid? ActorId, Guid UserId) : DirectoryChange(ActorId)
{
    public override string Action => "mfa.reset";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

/// <summary>The MFA policy replaced as a whole.</summary>
public sealed record SetMfaPolicy(Guid? ActorId, Tessera.Core.Credentials.MfaPolicy Policy) : DirectoryChange(ActorId)
{
    public override string Action => "mfa_policy.changed";

    public override string? ApprovalOperation => ApprovalOperations.ChangeMfaPolicy;

    public override ChangeTarget Target => new("mfa_policy", null);
}

/// <summary>The password policy replaced as a whole.</summary>
public sealed record SetPasswordPolicy(Guid? ActorId, Tessera.Core.Credentials.PasswordPolicy Policy) : DirectoryChange(ActorId)
{
    public override string Action => "password_policy.updated";

    public override string? ApprovalOperation => ApprovalOperations.ChangePasswordPolicy;

    public override ChangeTarget Target => new("password_policy", null);
}

/// <summary>
/// The approval policy replaced as a whole. It falls under no operation of its own: removing an operation while any is on
/// is stored for approval as <c>change_approval_policy</c> (<see cref="ChangeScope.RequireApproval"/>).
/// </summary>
public sealed record SetApprovalPolicy(Guid? ActorId, ApprovalPolicy Policy) : DirectoryChange(ActorId)
{
    public override string Action => "approval_policy.changed";

    public override ChangeTarget Target => new("approval_policy", null);
}

/// <summary>A named credential added to an API user; a generated secret is never part of the value.</summary>
public sealed record AddApiCredential(Guid? ActorId, Guid UserId, string Name, string Type, DateTime? ExpiresAt, string? Thumbprint) : DirectoryChange(ActorId)
{
    public override string Action => "credential.created";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

public sealed record DeleteApiCredential(Guid? ActorId, Guid UserId, Guid CredentialId) : DirectoryChange(ActorId)
{
    public override string Action => "credential.deleted";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

/// <summary>
/// An access review's revocation: removes one assignment of a user, their direct role (<see cref="GroupId"/> null)
/// or their membership of a group (<see cref="RoleId"/> then names the reviewed role the group brings). Nothing is granted.
/// </summary>
public sealed record RevokeAccess(Guid? ActorId, Guid UserId, Guid? RoleId, Guid? GroupId, Guid ReviewId) : DirectoryChange(ActorId)
{
    public override string Action => "access.revoked";

    public override ChangeTarget Target => ChangeTarget.User(UserId);
}

/// <summary>A new separation-of-duties constraint.</summary>
public sealed record CreateSodConstraint(Guid? ActorId, SodConstraintRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "sod_constraint.created";

    public override string? ApprovalOperation => ApprovalOperations.ChangeSodConstraints;

    public override ChangeTarget Target => new("sod_constraint", null, Request.Name);
}

/// <summary>A separation-of-duties constraint replaced whole.</summary>
public sealed record UpdateSodConstraint(Guid? ActorId, Guid ConstraintId, SodConstraintRequest Request) : DirectoryChange(ActorId)
{
    public override string Action => "sod_constraint.updated";

    public override string? ApprovalOperation => ApprovalOperations.ChangeSodConstraints;

    public override ChangeTarget Target => new("sod_constraint", ConstraintId);
}

public sealed record DeleteSodConstraint(Guid? ActorId, Guid ConstraintId) : DirectoryChange(ActorId)
{
    public override string Action => "sod_constraint.deleted";

    public override string? ApprovalOperation => ApprovalOperations.ChangeSodConstraints;

    public override ChangeTarget Target => new("sod_constraint", ConstraintId);
}
