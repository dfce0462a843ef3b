using Tessera.Core.Credentials;

namespace Tessera.Core.Tests;

public class PasswordPolicyTests
{
    [Fact]
    public void The_default_policy_is_valid_and_as_documented()
    {
        var policy = PasswordPolicy.Default;

        Assert.Empty(policy.Validate());
        Assert.Equal(
            (12, 128, false, false, false, false, true, true, 5, 0, 5, 15, 72, 1),
            (policy.MinLength, policy.MaxLength, policy.RequireUppercase, policy.RequireLowercase, policy.RequireDigit,
                policy.RequireSymbol, policy.RejectContainsUsername, policy.RejectCommon, policy.HistoryCount, policy.MaxAgeDays,
                policy.LockoutThreshold, policy.LockoutMinutes, policy.InvitationLifetimeHours, policy.ResetLifetimeHours));
    }

    [Theory]
    [InlineData("minLength", 7, false)]
    [InlineData("minLength", 8, true)]
    [InlineData("minLength", 128, true)]
    [InlineData("minLength", 129, false)]
    [InlineData("maxLength", 63, false)]
    [InlineData("maxLength", 64, true)]
    [InlineData("maxLength", 1024, true)]
    [InlineData("maxLength", 1025, false)]
    [InlineData("historyCount", -1, false)]
    [InlineData("historyCount", 0, true)]
    [InlineData("historyCount", 24, true)]
    [InlineData("historyCount", 25, false)]
    [InlineData("maxAgeDays", -1, false)]
    [InlineData("maxAgeDays", 0, true)]
    [InlineData("maxAgeDays", 3650, true)]
    [InlineData("maxAgeDays", 3651, false)]
    [InlineData("lockoutThreshold", 0, false)]
    [InlineData("lockoutThreshold", 1, true)]
    [InlineData("lockoutThreshold", 100, true)]
    [InlineData("lockoutThreshold", 101, false)]
    [InlineData("lockoutMinutes", 0, false)]
    [InlineData("lockoutMinutes", 1, true)]
    [InlineData("lockoutMinutes", 1440, true)]
    [InlineData("lockoutMinutes", 1441, false)]
    [InlineData("invitationLifetimeHours", 0, false)]
    [InlineData("invitationLifetimeHours", 1, true)]
    [InlineData("invitationLifetimeHours", 720, true)]
    [InlineData("invitationLifetimeHours", 721, false)]
    [InlineData("resetLifetimeHours", 0, false)]
    [InlineData("resetLifetimeHours", 1, true)]
    [InlineData("resetLifetimeHours", 72, true)]
    [InlineData("resetLifetimeHours", 73, false)]
    public void Each_setting_is_kept_within_its_bounds(string field, int value, bool valid)
    {
        var errors = With(field, value).Validate();

        if (valid)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal([field], errors.Keys);
            Assert.NotEmpty(errors[field]);
        }
    }

    [Fact]
    public void The_minimum_length_may_not_exceed_the_maximum()
    {
        var errors = (PasswordPolicy.Default with { MinLength = 100, MaxLength = 64 }).Validate();

        Assert.Equal(["minLength"], errors.Keys);
        Assert.Contains("64", errors["minLength"][0], StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_setting_is_reported_at_once()
    {
        var errors = (PasswordPolicy.Default with { MinLength = 4, LockoutThreshold = 0, ResetLifetimeHours = 0 }).Validate();

        Assert.Equal(["lockoutThreshold", "minLength", "resetLifetimeHours"], errors.Keys.Order(StringComparer.Ordinal));
    }

    private static PasswordPolicy With(string field, int value) => field switch
    {
        "minLength" => PasswordPolicy.Default with { MinLength = value },
        "maxLength" => PasswordPolicy.Default with { MaxLength = value, MinLength = 8 },
        "historyCount" => PasswordPolicy.Default with { HistoryCount = value },
        "maxAgeDays" => PasswordPolicy.Default with { MaxAgeDays = value },
        "lockoutThreshold" => PasswordPolicy.Default with { LockoutThreshold = value },
        "lockoutMinutes" => PasswordPolicy.Default with { LockoutMinutes = value },
        "invitationLifetimeHours" => PasswordPolicy.Default with { InvitationLifetimeHours = value },
        "resetLifetimeHours" => PasswordPolicy.Default with { ResetLifetimeHours = value },
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Unknown setting."),
    };
}
