namespace Tessera.Core.Users;

/// <summary>
/// Where an account stands in its life cycle: its stored status, when a lockout ends, and the failed
/// sign-ins counted toward the next one. Every rule about status and lockout is here: what the
/// account may do at a given instant, and each change of standing, as a transition to a new value.
/// </summary>
/// <remarks>
/// <para>The life cycle:</para>
/// <list type="bullet">
/// <item><b>Invited</b>: created, with no password set and no sign-in yet. Setting a password, or an SSO
/// user's first sign-in or an administrator's activation, makes it Active.</item>
/// <item><b>Active</b>: may sign in and act.</item>
/// <item><b>Locked</b>: too many failed sign-ins in a row. The lock ends by itself at
/// <see cref="LockedUntil"/> (none means until unlocked); from then on the account reads and acts as
/// Active, although the stored status stays Locked until the next sign-in, unlock or password change.</item>
/// <item><b>Disabled</b>: an administrator switched the account off; only enabling it again brings it back.</item>
/// </list>
/// <para>
/// A lock ends at <see cref="LockedUntil"/> itself: at that instant the account is no longer locked.
/// The server's queries state the same predicates for the database (Tessera.Server.Users.UserLifecycleQueries),
/// and a test on both providers checks that they select exactly the accounts these select.
/// </para>
/// </remarks>
public readonly record struct AccountStanding(UserStatus Status, DateTime? LockedUntil = null, int FailedSignInCount = 0)
{
    /// <summary>A new account: invited, never locked.</summary>
    public static AccountStanding NewlyInvited => new(UserStatus.Invited);

    /// <summary>Whether the account is locked at <paramref name="now"/>: Locked, and the lock has no end or ends later.</summary>
    public bool IsLockedAt(DateTime now) => Status == UserStatus.Locked && (LockedUntil is null || LockedUntil > now);

    /// <summary>The status as it reads at <paramref name="now"/>: a lock that has ended reads Active.</summary>
    public UserStatus EffectiveStatus(DateTime now) => Status == UserStatus.Locked && !IsLockedAt(now) ? UserStatus.Active : Status;

    /// <summary>Whether the account may act at <paramref name="now"/>: Active, or Locked with the lock ended.</summary>
    /// <remarks>The same as <c>EffectiveStatus(now) == Active</c>. An Invited account may not act: it has no credential yet.</remarks>
    public bool MayActAt(DateTime now) => Status == UserStatus.Active || (Status == UserStatus.Locked && !IsLockedAt(now));

    /// <summary>
    /// Whether the account may present a credential at <paramref name="now"/>: anything but disabled or locked.
    /// An Invited account may (an SSO user's first sign-in activates it); whether it has a password to present is
    /// the credential's business.
    /// </summary>
    public bool MaySignInAt(DateTime now) => Status != UserStatus.Disabled && !IsLockedAt(now);

    /// <summary>
    /// Whether an invitation or password-reset link may set the password: unless the account is disabled.
    /// A locked user resets the password to get back in; a disabled one waits for an administrator.
    /// </summary>
    public bool MaySetPasswordByLink => Status != UserStatus.Disabled;

    /// <summary>An administrator switches the account off. The lock and count are kept; enabling clears them.</summary>
    public AccountStanding Disable() => this with { Status = UserStatus.Disabled };

    /// <summary>
    /// An administrator sets the account active ("enable or unlock"). A Disabled or Locked account becomes Active,
    /// or Invited again when it never had a credential (no password set and never signed in); the lock and count are
    /// cleared. An Invited SSO user becomes Active: it needs no password, and this activation is what it waits for.
    /// An Invited password user stays Invited until it sets a password; an Active account is left as it is.
    /// </summary>
    /// <param name="hadCredential">Whether the account has a password or has ever signed in.</param>
    /// <param name="mode">How the account proves who it is.</param>
    public AccountStanding Enable(bool hadCredential, CredentialMode mode) => Status switch
    {
        UserStatus.Disabled or UserStatus.Locked => new(hadCredential ? UserStatus.Active : UserStatus.Invited),
        UserStatus.Invited when mode == CredentialMode.Sso => this with { Status = UserStatus.Active },
        _ => this,
    };

    /// <summary>An administrator lifts a lock: a Locked account becomes Active; any status loses its lock end and count.</summary>
    public AccountStanding Unlock() => Status == UserStatus.Locked
        ? new(UserStatus.Active)
        : this with { LockedUntil = null, FailedSignInCount = 0 };

    /// <summary>
    /// A password was set (by link, by an administrator, or by the user). The count restarts; an Invited or Locked
    /// account becomes Active and loses its lock. A Disabled account stays disabled.
    /// </summary>
    public AccountStanding CredentialSet() => Status is UserStatus.Invited or UserStatus.Locked
        ? new(UserStatus.Active)
        : this with { FailedSignInCount = 0 };

    /// <summary>
    /// A sign-in succeeded at <paramref name="now"/>. The count restarts; an Invited account (an SSO user's first
    /// sign-in) or one whose lock has ended becomes Active and loses its lock.
    /// </summary>
    /// <exception cref="InvalidOperationException">The account may not sign in at <paramref name="now"/>: the caller
    /// must have refused it, since applying this would unlock or enable it.</exception>
    public AccountStanding SignedIn(DateTime now)
    {
        if (!MaySignInAt(now))
        {
            throw new InvalidOperationException($"A {Status.ToWire()} account cannot sign in{(IsLockedAt(now) ? $" before {LockedUntil:O}" : "")}.");
        }

        return Status is UserStatus.Invited or UserStatus.Locked
            ? new(UserStatus.Active)
            : this with { FailedSignInCount = 0 };
    }

    /// <summary>
    /// A sign-in failed at <paramref name="now"/>: one more failure counts, and reaching <paramref name="threshold"/>
    /// locks the account for <paramref name="lockFor"/> (the count restarts). Only an account that may act is locked:
    /// one already locked keeps its lock (of two failures that reach the threshold together, the first locks), and a
    /// disabled or invited one is never locked (a lock that ended would make it Active).
    /// </summary>
    /// <remarks>The server counts in the database, atomically; it applies this rule with the same predicates (see PasswordSignIn).</remarks>
    public AccountStanding SignInFailed(DateTime now, int threshold, TimeSpan lockFor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lockFor, TimeSpan.Zero);
        var failures = FailedSignInCount + 1;
        return failures >= threshold && MayActAt(now)
            ? Lock(now + lockFor)
            : this with { FailedSignInCount = failures };
    }

    /// <summary>Locks the account until <paramref name="until"/>; the count restarts. A lock already in place is replaced.</summary>
    /// <exception cref="InvalidOperationException">The account is disabled or invited: it is not locked, since a lock that ends would make it Active.</exception>
    public AccountStanding Lock(DateTime until)
    {
        if (Status is not (UserStatus.Active or UserStatus.Locked))
        {
            throw new InvalidOperationException($"A {Status.ToWire()} account is not locked.");
        }

        return new(UserStatus.Locked, until);
    }

    /// <summary>
    /// The operator's configured (bootstrap) password was applied: the account is Active again whatever its state,
    /// with no lock and no count. This is how an operator gets back into a directory nobody can manage.
    /// </summary>
    public AccountStanding Reinstate() => new(UserStatus.Active);

    /// <summary>For logs and test failures, e.g. "locked until 2025-03-14T09:30:00.0000000Z, 2 failures".</summary>
    public override string ToString()
        => $"{Status.ToWire()}{(LockedUntil is { } until ? $" until {until:O}" : "")}, {FailedSignInCount} failures";
}
