using Tessera.Core.Credentials;
using static Tessera.Core.Credentials.PasswordViolationCodes;

namespace Tessera.Core.Tests;

public class PasswordStrengthTests
{
    private static readonly CommonPasswords Common = new();
    private static readonly ZxcvbnEstimator Estimator = new();

    [Theory]
    [InlineData("password123456")]
    [InlineData("Password1234!")]
    [InlineData("qwertyuiop123")]
    [InlineData("aaaaaaaaaaaa")]
    [InlineData("abcdefghijkl")]
    [InlineData("Admin-Passw0rd-1!")]
    public void Guessable_passwords_are_too_weak_by_default(string password)
    {
        var violations = PasswordRules.Check(password, PasswordPolicy.Default, null, null, Common, Estimator);

        var weak = Assert.Single(violations, v => v.Code == TooWeak);
        Assert.Contains("strength", weak.Message, StringComparison.Ordinal);
        Assert.NotEmpty(weak.Suggestions!);
    }

    [Theory]
    [InlineData("password123456", ZxcvbnEstimator.Warnings.SimilarToCommon)]
    [InlineData("qwertyuiop123", ZxcvbnEstimator.Warnings.SimilarToCommon)]
    [InlineData("aaaaaaaaaaaa", ZxcvbnEstimator.Warnings.RepeatedCharacter)]
    [InlineData("abcdefghijkl", ZxcvbnEstimator.Warnings.Sequence)]
    [InlineData("janedoe19841984", ZxcvbnEstimator.Warnings.PersonalData)]
    public void A_weak_password_is_told_what_makes_it_weak(string password, string warning)
    {
        var estimate = Estimator.Estimate(password, ["janedoe", "jane.doe@example.com"]);

        Assert.InRange(estimate.Score, 0, 2);
        Assert.Equal(warning, estimate.Warning);
        Assert.Contains(ZxcvbnEstimator.Suggestions.AnotherWord, estimate.Suggestions);
    }

    [Fact]
    public void A_capitalised_word_is_told_that_capitals_help_little()
        => Assert.Contains(ZxcvbnEstimator.Suggestions.Capitalization, Estimator.Estimate("Password1234!", []).Suggestions);

    [Theory]
    [InlineData("Correct-Horse-7-Battery")]
    [InlineData("correct horse battery staple")]
    [InlineData("Xk9#mP2$vL7q")]
    public void Hard_passwords_pass_with_no_feedback(string password)
    {
        Assert.Empty(PasswordRules.Check(password, PasswordPolicy.Default, "jane.doe", "jane.doe@example.com", Common, Estimator));

        var estimate = Estimator.Estimate(password, []);
        Assert.True(estimate.Score >= 3, $"score {estimate.Score}");
        Assert.Null(estimate.Warning);
        Assert.Empty(estimate.Suggestions);
    }

    [Theory]
    [InlineData(0, "Password1234!", true)]
    [InlineData(1, "Admin-Passw0rd-1!", true)]
    [InlineData(2, "Admin-Passw0rd-1!", true)]
    [InlineData(3, "Admin-Passw0rd-1!", false)]
    [InlineData(4, "Correct-Horse-7-Battery", true)]
    public void The_policy_sets_the_least_strength(int minStrength, string password, bool accepted)
    {
        var violations = PasswordRules.Check(password, PasswordPolicy.Default with { MinStrength = minStrength }, null, null, Common, Estimator);

        Assert.Equal(accepted, violations.All(v => v.Code != TooWeak));
    }

    [Fact]
    public void Personal_data_counts_as_guessed_first()
    {
        const string Password = "Zebulon-Quartz1";
        var policy = PasswordPolicy.Default with { RejectContainsUsername = false };

        Assert.DoesNotContain(PasswordRules.Check(Password, policy, null, null, Common, Estimator), v => v.Code == TooWeak);
        Assert.Contains(PasswordRules.Check(Password, policy, null, null, Common, Estimator, "Zebulon", "Quartz1"), v => v.Code == TooWeak);
    }

    [Fact]
    public void A_too_short_password_is_not_estimated_as_well()
        => Assert.Equal([TooShort], PasswordRules.Check("Xk9#mP2$", PasswordPolicy.Default, null, null, Common, Estimator).Select(v => v.Code));

    [Fact]
    public void A_very_long_password_is_estimated_quickly()
    {
        var started = DateTime.UtcNow;
        var estimate = Estimator.Estimate(string.Concat(Enumerable.Repeat("ab1-", 256)), []);

        Assert.InRange(estimate.Score, 0, 4);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData(-1, false)]
    [InlineData(0, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void The_least_strength_is_between_0_and_4(int minStrength, bool valid)
        => Assert.Equal(valid, !(PasswordPolicy.Default with { MinStrength = minStrength }).Validate().ContainsKey("minStrength"));

    [Fact]
    public void The_default_least_strength_is_3() => Assert.Equal(3, PasswordPolicy.Default.MinStrength);
}
