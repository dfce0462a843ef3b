using Tessera.Core.Credentials;

namespace Tessera.Core.Tests;

public class ApiCredentialRulesTests
{
    private static readonly DateTime Now = new(2027, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    [Theory]
    // days until expiry (null: none), last warning sent, the warning due now
    [InlineData(null, null, null)]
    [InlineData(30.0, null, null)]
    [InlineData(14.01, null, null)]
    [InlineData(14.0, null, 14)]
    [InlineData(10.0, null, 14)]
    [InlineData(10.0, 14, null)]
    [InlineData(3.0, 14, 3)]
    [InlineData(2.0, null, 3)]
    [InlineData(2.0, 3, null)]
    [InlineData(0.5, 14, 3)]
    [InlineData(0.0, null, null)]
    [InlineData(-1.0, 14, null)]
    public void The_most_urgent_warning_not_yet_sent_is_due(double? daysLeft, int? lastNotice, int? due)
        => Assert.Equal(due, ApiCredentialRules.ExpiryNoticeDue(daysLeft is { } d ? Now.AddDays(d) : null, lastNotice, Now));

    [Theory]
    [InlineData(null, false, false)]
    [InlineData(-0.0001, true, false)]
    [InlineData(0.0, true, false)]
    [InlineData(0.0001, false, true)]
    [InlineData(14.0, false, true)]
    [InlineData(14.0001, false, false)]
    public void A_credential_is_expired_from_its_expiry_on_and_soon_within_14_days(double? daysLeft, bool expired, bool soon)
    {
        DateTime? expiresAt = daysLeft is { } d ? Now.AddDays(d) : null;
        Assert.Equal(expired, ApiCredentialRules.IsExpired(expiresAt, Now));
        Assert.Equal(soon, ApiCredentialRules.ExpiresSoon(expiresAt, Now));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(-59.0, false)]
    [InlineData(-60.0, true)]
    [InlineData(-3600.0, true)]
    [InlineData(5.0, true)]
    public void The_last_use_is_written_at_most_once_a_minute(double? secondsAgo, bool write)
        => Assert.Equal(write, ApiCredentialRules.ShouldRecordUse(secondsAgo is { } s ? Now.AddSeconds(s) : null, Now));

    [Theory]
    [InlineData("erp-2027", null)]
    [InlineData("  padded  ", null)]
    [InlineData("", "required")]
    [InlineData("   ", "required")]
    [InlineData(null, "required")]
    [InlineData("tab\there", "control characters")]
    public void A_name_is_required_short_and_printable(string? name, string? error)
    {
        var message = ApiCredentialRules.ValidateName(name);
        if (error is null)
        {
            Assert.Null(message);
        }
        else
        {
            Assert.Contains(error, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Names_compare_trimmed_and_ignoring_case_and_over_100_characters_are_refused()
    {
        Assert.Equal(ApiCredentialRules.NormalizeName("ERP-2027"), ApiCredentialRules.NormalizeName(" erp-2027 "));
        Assert.Null(ApiCredentialRules.ValidateName(new string('n', 100)));
        Assert.NotNull(ApiCredentialRules.ValidateName(new string('n', 101)));
    }

    [Fact]
    public void An_expiry_must_lie_ahead_and_types_have_their_wire_names()
    {
        Assert.NotNull(ApiCredentialRules.ValidateExpiry(Now, Now));
        Assert.Null(ApiCredentialRules.ValidateExpiry(Now.AddSeconds(1), Now));
        Assert.Null(ApiCredentialRules.ValidateExpiry(null, Now));
        Assert.True(ApiCredentialRules.TryParseType("public_key", out var key) && key == ApiCredentialType.PublicKey);
        Assert.True(ApiCredentialRules.TryParseType("secret", out var secret) && secret == ApiCredentialType.Secret);
        Assert.False(ApiCredentialRules.TryParseType("Secret", out _));
        Assert.Equal("public_key", ApiCredentialType.PublicKey.ToWire());
    }
}
