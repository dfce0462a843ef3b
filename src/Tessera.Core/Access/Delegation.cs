namespace Tessera.Core.Access;

/// <summary>The codes of the three delegation refusals, stable for clients and the audit log.</summary>
public static class DelegationCodes
{
    /// <summary>The change would hand out a privilege the actor does not hold (403).</summary>
    public const string PrivilegeCeiling = "privilege_ceiling";

    /// <summary>The change acts on an account whose privileges the actor's do not cover (403).</summary>
    public const string TargetOutranksActor = "target_outranks_actor";

    /// <summary>The change would end the actor's own account or their own MANAGE_USERS (409).</summary>
    public const string SelfLockout = "self_lockout";
}

/// <summary>How a change touches an account: the actions an actor may not take on themself are named apart.</summary>
public enum AccountAction
{
    /// <summary>Anything else done to the account: details, roles, groups, invitation, unlock, tokens, agent scope.</summary>
    Change,

    /// <summary>Disabling the account.</summary>
    Disable,

    /// <summary>Deleting the account.</summary>
    Delete,

    /// <summary>An administrator setting the account's password (one's own goes through /me/password).</summary>
    SetPassword,

    /// <summary>
    /// Adding or deleting an API user's credentials. Never one's own: a client that could mint itself a new
    /// credential would turn one stolen secret into a lasting one.
    /// </summary>
    ManageCredentials,
}

/// <summary>An account a change acts on, with the privileges it holds before the change.</summary>
public sealed record AccountTarget(Guid Id, string Username, IReadOnlySet<string> Privileges);

/// <summary>
/// What a directory change does, in the terms the delegation rules judge: which privileges it hands out
/// and which accounts it acts on. The server works this out from the stored directory before applying.
/// </summary>
public sealed record ChangeImpact
{
    /// <summary>
    /// Every privilege the change hands out: those of each role newly given to a user or a group, of each
    /// group a user newly joins, and those newly added to a role's definition. Taking away never counts.
    /// </summary>
    public IReadOnlyCollection<string> HandedOut { get; init; } = [];

    /// <summary>The accounts acted on, with what they hold before the change.</summary>
    public IReadOnlyList<AccountTarget> Accounts { get; init; } = [];

    /// <summary>What is done to <see cref="Accounts"/>.</summary>
    public AccountAction AccountAction { get; init; } = AccountAction.Change;
}

/// <summary>A refusal by the delegation rules: its code, a sentence for the caller, and the privileges involved.</summary>
public sealed record DelegationRefusal(string Code, string Detail, IReadOnlyList<string> Privileges, AccountTarget? Target = null);

/// <summary>
/// Who may hand out what, and to whom. Three rules, checked before a directory change applies:
/// <list type="number">
/// <item><b>Privilege ceiling.</b> An actor hands out only privileges its own effective access holds.
/// The built-in Administrator holds every privilege, so it may hand out anything. Taking away is not capped.</item>
/// <item><b>Account dominance.</b> An actor acts on another account only when that account's privileges
/// are a subset of the actor's: a user manager cannot reset an administrator's password.</item>
/// <item><b>No self-lockout.</b> An actor cannot disable or delete itself, set its own password as an
/// administrator would, or (checked after the change, see <see cref="LosesOwnAccess"/>) lose its own MANAGE_USERS.</item>
/// </list>
/// Privileges compare ignoring case, as everywhere else. Business permission rules (resource and action)
/// are not capped here: approval and separation of duties guard them.
/// </summary>
public static class Delegation
{
    /// <summary>The privilege an actor must keep for itself: without it nobody could repair the mistake from that account.</summary>
    public const string KeptPrivilege = Privileges.ManageUsers;

    /// <summary>Judges a change before it applies; null when the actor may make it.</summary>
    /// <param name="actorId">The acting user.</param>
    /// <param name="actorPrivileges">The actor's effective privileges, read in the change's transaction.</param>
    public static DelegationRefusal? Authorize(Guid actorId, IReadOnlySet<string> actorPrivileges, ChangeImpact impact)
    {
        ArgumentNullException.ThrowIfNull(actorPrivileges);
        ArgumentNullException.ThrowIfNull(impact);

        if (impact.AccountAction != AccountAction.Change && impact.Accounts.FirstOrDefault(a => a.Id == actorId) is { } self)
        {
            return new DelegationRefusal(DelegationCodes.SelfLockout, impact.AccountAction switch
            {
                AccountAction.Disable => "You cannot disable your own account; ask another user manager.",
                AccountAction.Delete => "You cannot delete your own account; ask another user manager.",
                AccountAction.ManageCredentials => "An API user cannot add or delete its own credentials; another user manager does, so that a stolen credential cannot mint more.",
                _ => "Change your own password with POST /api/v1/me/password or on your profile page: it asks for the current one.",
            }, [], self);
        }

        foreach (var account in impact.Accounts)
        {
            if (account.Id == actorId)
            {
                continue;
            }

            var beyond = Beyond(actorPrivileges, account.Privileges);
            if (beyond.Count > 0)
            {
                return new DelegationRefusal(DelegationCodes.TargetOutranksActor,
                    $"{account.Username} holds {Join(beyond)}, which you do not hold; only a user whose privileges cover theirs may change their account.",
                    beyond, account);
            }
        }

        var handedOut = Beyond(actorPrivileges, impact.HandedOut);
        return handedOut.Count == 0 ? null : Ceiling(handedOut);
    }

    /// <summary>
    /// Checked after a change applies, in its transaction: the actor held MANAGE_USERS before and would
    /// not after (a role left, a group left, a role or group edited). Null when it keeps it or never had it.
    /// </summary>
    public static DelegationRefusal? LosesOwnAccess(IReadOnlySet<string> before, IReadOnlySet<string> after)
        => Holds(before, KeptPrivilege) && !Holds(after, KeptPrivilege)
            ? new DelegationRefusal(DelegationCodes.SelfLockout,
                $"This would take {KeptPrivilege} from your own account, and you could not undo it; ask another user manager.",
                [KeptPrivilege])
            : null;

    /// <summary>The privileges among <paramref name="wanted"/> that the actor does not hold, ordered by name; empty when within the ceiling.</summary>
    public static IReadOnlyList<string> Beyond(IReadOnlySet<string> actorPrivileges, IEnumerable<string> wanted)
    {
        List<string>? beyond = null;
        foreach (var privilege in wanted)
        {
            if (!Holds(actorPrivileges, privilege))
            {
                beyond ??= [];
                if (!beyond.Contains(privilege, StringComparer.OrdinalIgnoreCase))
                {
                    beyond.Add(privilege.ToUpperInvariant());
                }
            }
        }

        return beyond is null ? [] : [.. beyond.Order(StringComparer.Ordinal)];
    }

    /// <summary>Whether the actor may act on an account holding <paramref name="targetPrivileges"/>.</summary>
    public static bool Dominates(IReadOnlySet<string> actorPrivileges, IEnumerable<string> targetPrivileges)
        => Beyond(actorPrivileges, targetPrivileges).Count == 0;

    /// <summary>The refusal for handing out <paramref name="beyond"/>.</summary>
    public static DelegationRefusal Ceiling(IReadOnlyList<string> beyond)
        => new(DelegationCodes.PrivilegeCeiling, $"This would hand out {Join(beyond)}, beyond your own privileges.", beyond);

    // A set built with another comparer (a plain HashSet, say) still compares ignoring case here.
    private static bool Holds(IReadOnlySet<string> set, string privilege)
        => set.Contains(privilege) || set.Any(p => string.Equals(p, privilege, StringComparison.OrdinalIgnoreCase));

    private static string Join(IReadOnlyList<string> privileges)
        => privileges.Count == 1 ? privileges[0] : string.Join(", ", privileges.Take(privileges.Count - 1)) + " and " + privileges[^1];
}
