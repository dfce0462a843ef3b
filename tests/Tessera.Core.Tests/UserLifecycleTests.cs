using Tessera.Core.Users;

namespace Tessera.Core.Tests;

/// <summary>Each predicate and transition of <see cref="AccountStanding"/>, over every status and lock end.</summary>
public class UserLifecycleTests
{
    private static readonly DateTime Now = new(2025, 3, 14, 9, 30, 0, DateTimeKind.Utc);

    // Lock ends, named in the tables: "none", a past one, exactly now (the lock has just ended), a future one.
    private static DateTime? At(string when) => when switch
    {
        "none" => null,
        "past" => Now.AddMinutes(-5),
        "now" => Now,
        "future" => Now.AddMinutes(5),
        _ => throw new ArgumentOutOfRangeException(nameof(when)),
    };

    private static AccountStanding Standing(UserStatus status, string until, int failures = 3) => new(status, At(until), failures);

    public static readonly TheoryData<UserStatus, string> Every = Combinations();

    private static TheoryData<UserStatus, string> Combinations()
    {
        var data = new TheoryData<UserStatus, string>();
        foreach (var status in Enum.GetValues<UserStatus>())
        {
            foreach (var until in new[] { "none", "past", "now", "future" })
            {
                data.Add(status, until);
            }
        }

        return data;
    }

    [Theory]
    // Only a Locked account with no end or an end still to come is locked; a lock end on another status means nothing.
    [InlineData(UserStatus.Locked, "none", true, UserStatus.Locked, false, false)]
    [InlineData(UserStatus.Locked, "future", true, UserStatus.Locked, false, false)]
    [InlineData(UserStatus.Locked, "now", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Locked, "past", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Active, "none", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Active, "past", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Active, "now", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Active, "future", false, UserStatus.Active, true, true)]
    [InlineData(UserStatus.Invited, "none", false, UserStatus.Invited, false, true)]
    [InlineData(UserStatus.Invited, "past", false, UserStatus.Invited, false, true)]
    [InlineData(UserStatus.Invited, "now", false, UserStatus.Invited, false, true)]
    [InlineData(UserStatus.Invited, "future", false, UserStatus.Invited, false, true)]
    [InlineData(UserStatus.Disabled, "none", false, UserStatus.Disabled, false, false)]
    [InlineData(UserStatus.Disabled, "past", false, UserStatus.Disabled, false, false)]
    [InlineData(UserStatus.Disabled, "now", false, UserStatus.Disabled, false, false)]
    [InlineData(UserStatus.Disabled, "future", false, UserStatus.Disabled, false, false)]
    public void What_an_account_may_do_depends_on_its_status_and_lock_end(
        UserStatus status, string until, bool locked, UserStatus effective, bool mayAct, bool maySignIn)
    {
        var standing = Standing(status, until);

        Assert.True(
            (locked, effective, mayAct, maySignIn) == (standing.IsLockedAt(Now), standing.EffectiveStatus(Now), standing.MayActAt(Now), standing.MaySignInAt(Now)),
            $"{standing}: locked {standing.IsLockedAt(Now)}, reads {standing.EffectiveStatus(Now)}, may act {standing.MayActAt(Now)}, may sign in {standing.MaySignInAt(Now)}");
    }

    [Theory]
    [MemberData(nameof(Every))]
    public void The_predicates_agree_with_the_effective_status(UserStatus status, string until)
    {
        var standing = Standing(status, until);
        var effective = standing.EffectiveStatus(Now);

        Assert.Equal(effective == UserStatus.Locked, standing.IsLockedAt(Now));
        Assert.Equal(effective == UserStatus.Active, standing.MayActAt(Now));
        Assert.Equal(effective is UserStatus.Active or UserStatus.Invited, standing.MaySignInAt(Now));
        Assert.Equal(status != UserStatus.Disabled, standing.MaySetPasswordByLink);
        // The count never matters to what the account may do.
        Assert.Equal(standing.MayActAt(Now), (standing with { FailedSignInCount = 0 }).MayActAt(Now));
    }

    [Fact]
    public void A_lock_ends_at_its_end_and_not_a_tick_before()
    {
        var standing = new AccountStanding(UserStatus.Locked, Now);

        Assert.True(standing.IsLockedAt(Now.AddTicks(-1)));
        Assert.False(standing.IsLockedAt(Now));
        Assert.True(standing.MayActAt(Now));
    }

    [Fact]
    public void A_new_account_is_invited_and_never_locked()
        => Assert.Equal(new AccountStanding(UserStatus.Invited, null, 0), AccountStanding.NewlyInvited);

    [Theory]
    [InlineData(UserStatus.Active, "none", UserStatus.Disabled, "none")]
    [InlineData(UserStatus.Invited, "none", UserStatus.Disabled, "none")]
    // Disabling keeps the lock end and count: enabling clears them.
    [InlineData(UserStatus.Locked, "future", UserStatus.Disabled, "future")]
    [InlineData(UserStatus.Disabled, "past", UserStatus.Disabled, "past")]
    public void Disable(UserStatus status, string until, UserStatus then, string thenUntil)
        => Assert.Equal(Standing(then, thenUntil), Standing(status, until).Disable());

    [Theory]
    // Disabled or Locked (whether or not the lock ended): Active, or Invited again without a credential; no lock, no count.
    [InlineData(UserStatus.Disabled, "none", true, CredentialMode.Password, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Disabled, "future", true, CredentialMode.Password, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Disabled, "none", false, CredentialMode.Password, UserStatus.Invited, "none", 0)]
    [InlineData(UserStatus.Disabled, "none", false, CredentialMode.Sso, UserStatus.Invited, "none", 0)]
    [InlineData(UserStatus.Disabled, "none", true, CredentialMode.Sso, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Locked, "future", true, CredentialMode.Password, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Locked, "none", true, CredentialMode.Password, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Locked, "past", true, CredentialMode.Password, UserStatus.Active, "none", 0)]
    [InlineData(UserStatus.Locked, "future", false, CredentialMode.Password, UserStatus.Invited, "none", 0)]
    // An Invited SSO user is activated; an Invited password user waits for its password.
    [InlineData(UserStatus.Invited, "none", false, CredentialMode.Sso, UserStatus.Active, "none", 3)]
    [InlineData(UserStatus.Invited, "none", false, CredentialMode.Password, UserStatus.Invited, "none", 3)]
    // Active is left alone.
    [InlineData(UserStatus.Active, "none", true, CredentialMode.Password, UserStatus.Active, "none", 3)]
    [InlineData(UserStatus.Active, "none", true, CredentialMode.Sso, UserStatus.Active, "none", 3)]
    public void Enable(UserStatus status, string until, bool hadCredential, CredentialMode mode, UserStatus then, string thenUntil, int thenFailures)
        => Assert.Equal(Standing(then, thenUntil, thenFailures), Standing(status, until).Enable(hadCredential, mode));

    [Theory]
    [InlineData(UserStatus.Locked, "future", UserStatus.Active)]
    [InlineData(UserStatus.Locked, "none", UserStatus.Active)]
    [InlineData(UserStatus.Locked, "past", UserStatus.Active)]
    [InlineData(UserStatus.Active, "none", UserStatus.Active)]
    [InlineData(UserStatus.Invited, "none", UserStatus.Invited)]
    // A disabled account stays disabled, but loses a lock it had.
    [InlineData(UserStatus.Disabled, "future", UserStatus.Disabled)]
    public void Unlock_clears_the_lock_and_the_count(UserStatus status, string until, UserStatus then)
        => Assert.Equal(new AccountStanding(then), Standing(status, until).Unlock());

    [Theory]
    [InlineData(UserStatus.Invited, "none", UserStatus.Active, "none")]
    [InlineData(UserStatus.Locked, "future", UserStatus.Active, "none")]
    [InlineData(UserStatus.Locked, "past", UserStatus.Active, "none")]
    [InlineData(UserStatus.Active, "none", UserStatus.Active, "none")]
    // A password does not enable a disabled account; its lock end is kept for when it is enabled.
    [InlineData(UserStatus.Disabled, "none", UserStatus.Disabled, "none")]
    [InlineData(UserStatus.Disabled, "future", UserStatus.Disabled, "future")]
    public void Setting_a_password_restarts_the_count_and_ends_an_invitation_or_lock(UserStatus status, string until, UserStatus then, string thenUntil)
        => Assert.Equal(Standing(then, thenUntil, 0), Standing(status, until).CredentialSet());

    [Theory]
    [InlineData(UserStatus.Active, "none", UserStatus.Active)]
    [InlineData(UserStatus.Locked, "past", UserStatus.Active)]
    [InlineData(UserStatus.Locked, "now", UserStatus.Active)]
    [InlineData(UserStatus.Invited, "none", UserStatus.Active)]
    public void A_sign_in_restarts_the_count_and_clears_an_ended_lock(UserStatus status, string until, UserStatus then)
        => Assert.Equal(new AccountStanding(then), Standing(status, until).SignedIn(Now));

    [Theory]
    [InlineData(UserStatus.Locked, "future")]
    [InlineData(UserStatus.Locked, "none")]
    [InlineData(UserStatus.Disabled, "none")]
    [InlineData(UserStatus.Disabled, "past")]
    public void A_sign_in_the_rules_refuse_is_a_mistake_of_the_caller(UserStatus status, string until)
    {
        var standing = Standing(status, until);

        Assert.False(standing.MaySignInAt(Now));
        Assert.Throws<InvalidOperationException>(() => standing.SignedIn(Now));
    }

    [Theory]
    // Below the threshold: one more failure.
    [InlineData(UserStatus.Active, "none", 0, 3, UserStatus.Active, "none", 1)]
    [InlineData(UserStatus.Active, "none", 1, 3, UserStatus.Active, "none", 2)]
    // Reaching it locks for the duration, and the count restarts.
    [InlineData(UserStatus.Active, "none", 2, 3, UserStatus.Locked, "future", 0)]
    [InlineData(UserStatus.Active, "none", 0, 1, UserStatus.Locked, "future", 0)]
    // Past it (the threshold was lowered meanwhile): locks too.
    [InlineData(UserStatus.Active, "none", 7, 3, UserStatus.Locked, "future", 0)]
    // A lock that ended counts as Active.
    [InlineData(UserStatus.Locked, "past", 2, 3, UserStatus.Locked, "future", 0)]
    [InlineData(UserStatus.Locked, "past", 0, 3, UserStatus.Locked, "past", 1)]
    // Already locked: the first lock stands, the failure still counts.
    [InlineData(UserStatus.Locked, "future", 2, 3, UserStatus.Locked, "future", 3)]
    [InlineData(UserStatus.Locked, "none", 2, 3, UserStatus.Locked, "none", 3)]
    // Disabled or invited: never locked.
    [InlineData(UserStatus.Disabled, "none", 2, 3, UserStatus.Disabled, "none", 3)]
    [InlineData(UserStatus.Invited, "none", 4, 3, UserStatus.Invited, "none", 5)]
    public void Failed_sign_ins_lock_the_account_at_the_threshold(
        UserStatus status, string until, int failures, int threshold, UserStatus then, string thenUntil, int thenFailures)
    {
        var lockFor = TimeSpan.FromMinutes(5);

        var after = Standing(status, until, failures).SignInFailed(Now, threshold, lockFor);

        Assert.Equal(Standing(then, thenUntil, thenFailures), after);
    }

    [Fact]
    public void A_lockout_needs_a_threshold_and_a_duration()
    {
        var standing = new AccountStanding(UserStatus.Active);

        Assert.Throws<ArgumentOutOfRangeException>(() => standing.SignInFailed(Now, 0, TimeSpan.FromMinutes(5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => standing.SignInFailed(Now, 3, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(UserStatus.Active, "none")]
    [InlineData(UserStatus.Locked, "past")]
    // A lock in place is replaced by the new one.
    [InlineData(UserStatus.Locked, "future")]
    public void Lock(UserStatus status, string until)
    {
        var end = Now.AddHours(1);

        Assert.Equal(new AccountStanding(UserStatus.Locked, end, 0), Standing(status, until).Lock(end));
    }

    [Theory]
    [InlineData(UserStatus.Disabled)]
    [InlineData(UserStatus.Invited)]
    public void A_disabled_or_invited_account_is_not_locked(UserStatus status)
        => Assert.Throws<InvalidOperationException>(() => new AccountStanding(status).Lock(Now.AddHours(1)));

    [Theory]
    [MemberData(nameof(Every))]
    public void Reinstating_makes_any_account_active_with_no_lock_and_no_count(UserStatus status, string until)
        => Assert.Equal(new AccountStanding(UserStatus.Active), Standing(status, until).Reinstate());

    /// <summary>
    /// Over many random standings and instants: after an administrator enables, unlocks or reinstates an account it is
    /// not locked; unlocking takes nothing away; and no unlock, password or failed sign-in lets a disabled account act.
    /// </summary>
    [Fact]
    public void No_administrator_transition_leaves_a_lock_or_lets_a_disabled_account_act()
    {
        var random = new Random(20250314);
        var statuses = Enum.GetValues<UserStatus>();
        for (var i = 0; i < 10_000; i++)
        {
            var until = random.Next(3) == 0 ? (DateTime?)null : Now.AddMinutes(random.Next(-60, 60));
            var standing = new AccountStanding(statuses[random.Next(statuses.Length)], until, random.Next(10));
            var at = Now.AddMinutes(random.Next(-60, 60));
            var enabled = standing.Enable(random.Next(2) == 0, random.Next(2) == 0 ? CredentialMode.Password : CredentialMode.Sso);

            foreach (var after in new[] { enabled, standing.Unlock(), standing.Reinstate() })
            {
                Assert.False(after.IsLockedAt(at), $"{standing} at {at:O} -> {after}");
            }

            Assert.True(!standing.MayActAt(at) || standing.Unlock().MayActAt(at), $"{standing} may no longer act once unlocked");
            Assert.False(standing.Status == UserStatus.Disabled && standing.Unlock().MayActAt(at), $"{standing} unlocked may act");
            Assert.False(standing.Status == UserStatus.Disabled && standing.CredentialSet().MayActAt(at), $"{standing} with a password may act");
            Assert.False(standing.Status == UserStatus.Disabled && standing.SignInFailed(at, 1, TimeSpan.FromMinutes(1)).MayActAt(at.AddHours(2)),
                $"{standing} failing a sign-in may act once the lock ends");
        }
    }
}
