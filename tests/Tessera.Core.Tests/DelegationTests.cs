using Tessera.Core.Access;
using static Tessera.Core.Access.Privileges;

namespace Tessera.Core.Tests;

public class DelegationTests
{
    private static readonly Guid ActorId = new("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid TargetId = new("00000000-0000-0000-0000-00000000000b");
    private static readonly Guid OtherId = new("00000000-0000-0000-0000-00000000000c");

    private static readonly string[] All = [.. Catalog.Select(p => p.Name)];

    // The actors and targets the tables name: what each one holds.
    private static string[] Profile(string name) => name switch
    {
        "Administrator" => All,
        "User manager" => [ManageUsers, ViewUsers, ViewRoles],
        "Help desk" => [ManageUsers, ViewUsers],
        "Viewer" => [ViewUsers],
        "Auditor" => [ViewUsers, ViewAuditLog],
        "Plain" => [],
        _ => throw new ArgumentException($"No profile {name}", nameof(name)),
    };

    // As the server reads them: EffectiveAccess.Privileges compares ignoring case.
    private static HashSet<string> Set(params string[] privileges) => new(privileges, StringComparer.OrdinalIgnoreCase);

    private static string[] AllBut(params string[] held) => [.. All.Except(held).Order(StringComparer.Ordinal)];

    // --- Privilege ceiling ---------------------------------------------------------------------------------

    // An empty "beyond" means the hand-out is allowed.
    [Theory]
    // The administrator holds every privilege, so it may hand out anything.
    [InlineData("Administrator", new[] { ManageRoles }, new string[0])]
    [InlineData("Administrator", new[] { ManageUsers, ViewUsers, ManageRoles, ViewRoles, ManageGroups, ManagePasswordPolicy, ViewAuditLog, ManageCustomers, AgentAssist, ManageResources, Authorize }, new string[0])]
    [InlineData("Administrator", new string[0], new string[0])]
    // A user manager hands out only what it holds, one or all of it.
    [InlineData("User manager", new[] { ManageUsers }, new string[0])]
    [InlineData("User manager", new[] { ViewRoles, ViewUsers }, new string[0])]
    [InlineData("User manager", new[] { ManageUsers, ViewUsers, ViewRoles }, new string[0])]
    [InlineData("User manager", new[] { ViewUsers, ViewUsers }, new string[0])]
    [InlineData("User manager", new string[0], new string[0])]
    // Anything beyond is refused, and only what is beyond is named, whatever else is handed out along with it.
    [InlineData("User manager", new[] { ManageRoles }, new[] { ManageRoles })]
    [InlineData("User manager", new[] { ViewUsers, ManageRoles, ViewRoles }, new[] { ManageRoles })]
    // Several beyond: ordered by name and each named once.
    [InlineData("User manager", new[] { ViewAuditLog, ManageRoles, ViewUsers, ManageGroups, ManageRoles }, new[] { ManageGroups, ManageRoles, ViewAuditLog })]
    // A user without privileges hands out nothing; a help desk does not hold VIEW_ROLES.
    [InlineData("Plain", new[] { ViewUsers }, new[] { ViewUsers })]
    [InlineData("Plain", new string[0], new string[0])]
    [InlineData("Help desk", new[] { ManageUsers, ViewRoles }, new[] { ViewRoles })]
    public void An_actor_hands_out_only_privileges_it_holds(string actor, string[] handedOut, string[] beyond)
    {
        var refusal = Delegation.Authorize(ActorId, Set(Profile(actor)), new ChangeImpact { HandedOut = handedOut });

        if (beyond.Length == 0)
        {
            Assert.Null(refusal);
            return;
        }

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.PrivilegeCeiling, refusal.Code);
        Assert.Equal(beyond, refusal.Privileges);
        Assert.Null(refusal.Target);
        Assert.All(beyond, p => Assert.Contains(p, refusal.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public void A_user_manager_handing_out_everything_is_told_everything_it_lacks()
    {
        var refusal = Delegation.Authorize(ActorId, Set(Profile("User manager")), new ChangeImpact { HandedOut = All });

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.PrivilegeCeiling, refusal.Code);
        Assert.Equal(AllBut(ManageUsers, ViewUsers, ViewRoles), refusal.Privileges);
    }

    // The sentence a client shows: one privilege alone, several joined with commas and a final "and".
    [Theory]
    [InlineData(new[] { ManageRoles }, "This would hand out MANAGE_ROLES, beyond your own privileges.")]
    [InlineData(new[] { ManageRoles, ManageGroups }, "This would hand out MANAGE_GROUPS and MANAGE_ROLES, beyond your own privileges.")]
    [InlineData(new[] { ViewAuditLog, ManageRoles, ManageGroups }, "This would hand out MANAGE_GROUPS, MANAGE_ROLES and VIEW_AUDIT_LOG, beyond your own privileges.")]
    public void A_ceiling_refusal_names_the_privileges_in_its_detail(string[] handedOut, string detail)
    {
        var refusal = Delegation.Authorize(ActorId, Set(Profile("User manager")), new ChangeImpact { HandedOut = handedOut });

        Assert.Equal(detail, refusal?.Detail);
    }

    // --- Account dominance ---------------------------------------------------------------------------------

    // The target holds the privileges of a profile, or those listed after '+'; an empty "beyond" means allowed.
    [Theory]
    // The administrator acts on anyone, another administrator included.
    [InlineData("Administrator", AccountAction.SetPassword, "Administrator", new string[0])]
    [InlineData("Administrator", AccountAction.Delete, "Administrator", new string[0])]
    [InlineData("Administrator", AccountAction.Disable, "Help desk", new string[0])]
    [InlineData("Administrator", AccountAction.Change, "Plain", new string[0])]
    // A help desk resets the password of a plain user, or of one whose privileges its own cover (equal ones too).
    [InlineData("Help desk", AccountAction.SetPassword, "Plain", new string[0])]
    [InlineData("Help desk", AccountAction.SetPassword, "Viewer", new string[0])]
    [InlineData("Help desk", AccountAction.SetPassword, "Help desk", new string[0])]
    [InlineData("Help desk", AccountAction.Disable, "Viewer", new string[0])]
    // ...but not of a user holding VIEW_AUDIT_LOG: only what the target holds beyond the actor is named.
    [InlineData("Help desk", AccountAction.SetPassword, "Auditor", new[] { ViewAuditLog })]
    [InlineData("Help desk", AccountAction.Change, "Auditor", new[] { ViewAuditLog })]
    [InlineData("Help desk", AccountAction.Delete, "Auditor", new[] { ViewAuditLog })]
    // ...nor of a user manager, who holds VIEW_ROLES as well.
    [InlineData("Help desk", AccountAction.SetPassword, "User manager", new[] { ViewRoles })]
    // A user manager acts on a help desk, not the other way round.
    [InlineData("User manager", AccountAction.Disable, "Help desk", new string[0])]
    // A user without privileges may act only on another such user (whether it may call the endpoint is not judged here).
    [InlineData("Plain", AccountAction.Change, "Plain", new string[0])]
    [InlineData("Plain", AccountAction.Disable, "Viewer", new[] { ViewUsers })]
    public void An_actor_acts_only_on_accounts_whose_privileges_its_own_cover(string actor, AccountAction action, string target, string[] beyond)
    {
        var account = new AccountTarget(TargetId, "jdoe", Set(Profile(target)));

        var refusal = Delegation.Authorize(ActorId, Set(Profile(actor)), new ChangeImpact { Accounts = [account], AccountAction = action });

        Assert.Equal(beyond.Length == 0, Delegation.Dominates(Set(Profile(actor)), Profile(target)));
        if (beyond.Length == 0)
        {
            Assert.Null(refusal);
            return;
        }

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.TargetOutranksActor, refusal.Code);
        Assert.Equal(beyond, refusal.Privileges);
        Assert.Equal(account, refusal.Target);
        Assert.Contains("jdoe", refusal.Detail, StringComparison.Ordinal);
        Assert.All(beyond, p => Assert.Contains(p, refusal.Detail, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(AccountAction.SetPassword)]
    [InlineData(AccountAction.Disable)]
    [InlineData(AccountAction.Change)]
    public void A_help_desk_cannot_act_on_an_administrator(AccountAction action)
    {
        var admin = new AccountTarget(TargetId, "root", Set(All));

        var refusal = Delegation.Authorize(ActorId, Set(Profile("Help desk")), new ChangeImpact { Accounts = [admin], AccountAction = action });

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.TargetOutranksActor, refusal.Code);
        Assert.Equal(AllBut(ManageUsers, ViewUsers), refusal.Privileges);
        Assert.Same(admin, refusal.Target);
    }

    [Fact]
    public void Of_several_accounts_the_first_that_outranks_the_actor_is_named()
    {
        // A group membership change acts on everyone added or removed: the plain user passes, the auditor is named.
        var plain = new AccountTarget(OtherId, "plain", Set());
        var auditor = new AccountTarget(TargetId, "auditor", Set(Profile("Auditor")));
        var admin = new AccountTarget(Guid.NewGuid(), "root", Set(All));

        var refusal = Delegation.Authorize(ActorId, Set(Profile("Help desk")), new ChangeImpact { Accounts = [plain, auditor, admin] });

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.TargetOutranksActor, refusal.Code);
        Assert.Same(auditor, refusal.Target);
        Assert.Equal([ViewAuditLog], refusal.Privileges);
        Assert.Equal("auditor holds VIEW_AUDIT_LOG, which you do not hold; only a user whose privileges cover theirs may change their account.", refusal.Detail);
    }

    // --- No self-lockout ----------------------------------------------------------------------------------

    // Even an administrator may not disable, delete or set the password of its own account; any other change to it
    // is judged by the ceiling alone.
    [Theory]
    [InlineData("Administrator", AccountAction.Disable, DelegationCodes.SelfLockout, "You cannot disable your own account")]
    [InlineData("Administrator", AccountAction.Delete, DelegationCodes.SelfLockout, "You cannot delete your own account")]
    [InlineData("Administrator", AccountAction.SetPassword, DelegationCodes.SelfLockout, "/api/v1/me/password")]
    [InlineData("Administrator", AccountAction.ManageCredentials, DelegationCodes.SelfLockout, "cannot add or delete its own credentials")]
    [InlineData("Administrator", AccountAction.Change, null, null)]
    [InlineData("Help desk", AccountAction.Disable, DelegationCodes.SelfLockout, "You cannot disable your own account")]
    [InlineData("Help desk", AccountAction.Delete, DelegationCodes.SelfLockout, "You cannot delete your own account")]
    [InlineData("Help desk", AccountAction.SetPassword, DelegationCodes.SelfLockout, "/api/v1/me/password")]
    [InlineData("Help desk", AccountAction.Change, null, null)]
    [InlineData("Plain", AccountAction.Disable, DelegationCodes.SelfLockout, "You cannot disable your own account")]
    [InlineData("Plain", AccountAction.Change, null, null)]
    public void An_actor_cannot_lock_itself_out(string actor, AccountAction action, string? code, string? detail)
    {
        var self = new AccountTarget(ActorId, "me", Set(Profile(actor)));

        var refusal = Delegation.Authorize(ActorId, Set(Profile(actor)), new ChangeImpact { Accounts = [self], AccountAction = action });

        Assert.Equal(code, refusal?.Code);
        if (refusal is not null)
        {
            Assert.Contains(detail!, refusal.Detail, StringComparison.Ordinal);
            Assert.Empty(refusal.Privileges);
            Assert.Same(self, refusal.Target);
        }
    }

    [Fact]
    public void Dominance_never_refuses_a_change_to_ones_own_account()
    {
        // The privileges recorded for the actor's own account are not compared with its own, even when they say more
        // (read a moment apart, say): changing oneself is capped by the ceiling and by LosesOwnAccess, not by dominance.
        var self = new AccountTarget(ActorId, "me", Set(All));

        Assert.Null(Delegation.Authorize(ActorId, Set(Profile("Help desk")), new ChangeImpact { Accounts = [self] }));
    }

    // --- Precedence ---------------------------------------------------------------------------------------

    // One change that would break several rules gets the refusal of the first: self-lockout, then dominance, then the ceiling.
    // "self" puts the actor's own account among those acted on, before or after the target.
    [Theory]
    [InlineData(AccountAction.Disable, "self,target", DelegationCodes.SelfLockout)]
    [InlineData(AccountAction.Disable, "target,self", DelegationCodes.SelfLockout)]
    [InlineData(AccountAction.Delete, "target,self", DelegationCodes.SelfLockout)]
    [InlineData(AccountAction.SetPassword, "target,self", DelegationCodes.SelfLockout)]
    [InlineData(AccountAction.Change, "self,target", DelegationCodes.TargetOutranksActor)]
    [InlineData(AccountAction.SetPassword, "target", DelegationCodes.TargetOutranksActor)]
    [InlineData(AccountAction.Change, "self", DelegationCodes.PrivilegeCeiling)]
    [InlineData(AccountAction.Change, "", DelegationCodes.PrivilegeCeiling)]
    public void Self_lockout_comes_before_dominance_which_comes_before_the_ceiling(AccountAction action, string accounts, string code)
    {
        // A help desk acting on an administrator (outranks it) while handing out MANAGE_ROLES (beyond its ceiling).
        var self = new AccountTarget(ActorId, "me", Set(Profile("Help desk")));
        var admin = new AccountTarget(TargetId, "root", Set(All));
        var impact = new ChangeImpact
        {
            HandedOut = [ManageRoles],
            Accounts = [.. accounts.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(a => a == "self" ? self : admin)],
            AccountAction = action,
        };

        var refusal = Delegation.Authorize(ActorId, Set(Profile("Help desk")), impact);

        Assert.Equal(code, refusal?.Code);
    }

    // --- Case ---------------------------------------------------------------------------------------------

    // The actor's privileges come in a plain HashSet (case-sensitive comparer); the names compare ignoring case all
    // the same, and what is beyond comes back upper-case, ordered by name and each once.
    [Theory]
    [InlineData(new[] { ManageUsers, ViewUsers }, new[] { "manage_users", "View_Users" }, new string[0])]
    [InlineData(new[] { "manage_users" }, new[] { ManageUsers, "Manage_Users" }, new string[0])]
    [InlineData(new[] { ManageUsers }, new[] { "view_audit_log", "Manage_Roles", "VIEW_AUDIT_LOG", "manage_users", "View_Audit_Log" }, new[] { ManageRoles, ViewAuditLog })]
    [InlineData(new string[0], new[] { "view_users", "manage_users", "VIEW_USERS" }, new[] { ManageUsers, ViewUsers })]
    [InlineData(new string[0], new string[0], new string[0])]
    public void Privileges_compare_ignoring_case_whatever_the_sets_comparer(string[] held, string[] wanted, string[] beyond)
    {
        var actor = new HashSet<string>(held);

        Assert.Equal(beyond, Delegation.Beyond(actor, wanted));
        Assert.Equal(beyond.Length == 0, Delegation.Dominates(actor, wanted));

        // The same comparison judges what is handed out and the accounts acted on.
        var ceiling = Delegation.Authorize(ActorId, actor, new ChangeImpact { HandedOut = wanted });
        var dominance = Delegation.Authorize(ActorId, actor, new ChangeImpact { Accounts = [new AccountTarget(TargetId, "jdoe", new HashSet<string>(wanted))] });
        if (beyond.Length == 0)
        {
            Assert.Null(ceiling);
            Assert.Null(dominance);
        }
        else
        {
            Assert.Equal(beyond, ceiling?.Privileges ?? []);
            Assert.Equal(beyond, dominance?.Privileges ?? []);
        }
    }

    [Fact]
    public void Beyond_is_empty_within_the_ceiling_and_otherwise_upper_case_ordered_and_distinct()
    {
        Assert.Empty(Delegation.Beyond(Set(All), All.Select(p => p.ToLowerInvariant())));
        Assert.Equal(All.Order(StringComparer.Ordinal), Delegation.Beyond(Set(), All.Reverse().Concat(All.Select(p => p.ToLowerInvariant()))));
    }

    // --- Losing one's own MANAGE_USERS -------------------------------------------------------------------

    [Theory]
    // Held and lost: refused, whatever else is kept.
    [InlineData(new[] { ManageUsers, ViewUsers }, new[] { ViewUsers }, true)]
    [InlineData(new[] { ManageUsers }, new string[0], true)]
    [InlineData(new[] { ManageUsers, ViewUsers, ManageRoles, ViewRoles, ManageGroups, ManagePasswordPolicy, ViewAuditLog, ManageCustomers, AgentAssist, ManageResources, Authorize }, new[] { ViewUsers, ManageRoles }, true)]
    // Never held: nothing to lose, whatever else goes.
    [InlineData(new[] { ViewUsers, ViewAuditLog }, new string[0], false)]
    [InlineData(new string[0], new string[0], false)]
    [InlineData(new string[0], new[] { ManageUsers }, false)]
    // Kept: other privileges may go.
    [InlineData(new[] { ManageUsers }, new[] { ManageUsers }, false)]
    [InlineData(new[] { ManageUsers, ViewUsers, ViewAuditLog }, new[] { ManageUsers }, false)]
    [InlineData(new[] { ManageUsers }, new[] { ManageUsers, ViewAuditLog }, false)]
    public void An_actor_cannot_take_its_own_manage_users(string[] before, string[] after, bool refused)
    {
        var refusal = Delegation.LosesOwnAccess(Set(before), Set(after));

        if (!refused)
        {
            Assert.Null(refusal);
            return;
        }

        Assert.NotNull(refusal);
        Assert.Equal(DelegationCodes.SelfLockout, refusal.Code);
        Assert.Equal([ManageUsers], refusal.Privileges);
        Assert.Contains(ManageUsers, refusal.Detail, StringComparison.Ordinal);
        Assert.Null(refusal.Target);
    }

    [Fact]
    public void Losing_ones_own_manage_users_compares_ignoring_case_whatever_the_sets_comparer()
    {
        // Plain (case-sensitive) sets: a lower-case name held before and gone after is a loss, and kept under another case is not.
        Assert.Equal(DelegationCodes.SelfLockout, Delegation.LosesOwnAccess(new HashSet<string> { "manage_users" }, new HashSet<string>())?.Code);
        Assert.Null(Delegation.LosesOwnAccess(new HashSet<string> { ManageUsers }, new HashSet<string> { "manage_users" }));
    }
}
