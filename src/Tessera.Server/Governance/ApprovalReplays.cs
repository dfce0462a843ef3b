using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Changes;
using Tessera.Server.Credentials;
using Tessera.Server.Groups;
using Tessera.Server.Mfa;
using Tessera.Server.Roles;
using Tessera.Server.Users;

namespace Tessera.Server.Governance;

/// <summary>
/// Applies an approved change again through the use case that made it: the same validation, the delegation rules
/// (judging the checker, who makes the current request) and every invariant, at this moment. The kinds here are those
/// the approval policy can put under approval: users, groups and roles that grant or define access, and the three
/// policies. Services are resolved when a change is replayed, not when an approval is merely read.
/// </summary>
public sealed class DirectoryChangeReplay(IServiceProvider services) : IChangeReplay
{
    /// <summary>
    /// The privilege the endpoint that makes each kind of change requires: APPROVE_CHANGES alone does not let anyone
    /// set the password policy, say.
    /// </summary>
    public string PrivilegeFor(DirectoryChange change) => change switch
    {
        CreateUser or DeleteUser or SetUserRoles => Privileges.ManageUsers,
        CreateGroup or UpdateGroup or SetGroupRoles or SetGroupMembers => Privileges.ManageGroups,
        CreateRole or UpdateRole or DeleteRole or ImportRoles => Privileges.ManageRoles,
        SetMfaPolicy => Privileges.ManageAuthenticationPolicy,
        SetPasswordPolicy => Privileges.ManagePasswordPolicy,
        SetApprovalPolicy => Privileges.ManageGovernance,
        _ => throw new NotSupportedException($"{change.GetType().Name} is not replayed here."),
    };

    public bool Replays(DirectoryChange change) => change is CreateUser or DeleteUser or SetUserRoles
        or CreateGroup or UpdateGroup or SetGroupRoles or SetGroupMembers
        or CreateRole or UpdateRole or DeleteRole or ImportRoles
        or SetMfaPolicy or SetPasswordPolicy or SetApprovalPolicy;

    public async Task<Failure?> ReplayAsync(DirectoryChange change, CancellationToken ct) => change switch
    {
        CreateUser c => (await Users.CreateAsync(c.Request, ct)).Failure,
        DeleteUser c => await Users.DeleteAsync(c.UserId, ct),
        SetUserRoles c => (await Users.ChangeRolesAsync(c.UserId, new ChangeRolesRequest([.. c.Roles]), ct)).Failure,
        CreateGroup c => (await Groups.CreateAsync(c.Request, ct)).Failure,
        UpdateGroup c => (await Groups.UpdateAsync(c.GroupId, c.Request, ct)).Failure,
        SetGroupRoles c => (await Groups.ChangeRolesAsync(c.GroupId, new GroupRolesRequest([.. c.Roles]), ct)).Failure,
        SetGroupMembers c => (await Groups.ChangeMembersAsync(c.GroupId, new GroupMembersRequest([.. c.UserIds]), ct)).Failure,
        CreateRole c => (await Roles.CreateAsync(c.Request, ct)).Failure,
        UpdateRole c => (await Roles.UpdateAsync(c.RoleId, c.Request, ct)).Failure,
        DeleteRole c => await Roles.DeleteAsync(c.RoleId, ct),
        ImportRoles c => (await Roles.ImportAsync(c.Mode, c.Document, ct)).Failure,
        SetMfaPolicy c => (await services.GetRequiredService<MfaPolicyService>().SetAsync(c.Policy, ct)).Failure,
        SetPasswordPolicy c => (await services.GetRequiredService<CredentialService>().SetPolicyAsync(c.Policy, ct)).Failure,
        SetApprovalPolicy c => (await services.GetRequiredService<ApprovalPolicyService>().SetPolicyAsync(c.Policy, ct)).Failure,
        _ => throw new NotSupportedException($"{change.GetType().Name} is not replayed here."),
    };

    private UserService Users => services.GetRequiredService<UserService>();

    private GroupService Groups => services.GetRequiredService<GroupService>();

    private RoleService Roles => services.GetRequiredService<RoleService>();
}
