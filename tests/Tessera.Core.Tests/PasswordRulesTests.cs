using Tessera.Core.Credentials;
using static Tessera.Core.Credentials.PasswordViolationCodes;

namespace Tessera.Core.Tests;

public class PasswordRulesTests
{
    private static readonly CommonPasswords Common = new();

    private static readonly PasswordPolicy Strict = PasswordPolicy.Default with
    {
        RequireUppercase = true,
        RequireLowercase = true,
        RequireDigit = true,
        RequireSymbol = true,
    };

    public static TheoryData<string, string, string?, string?, string> EachRule => new()
    {
        // password, requirement switched on, username, email, the one violation expected
        { "Short 1!", "none", null, null, TooShort },
        { new string('a', 129), "none", null, null, TooLong },
        { "all lowercase words", "uppercase", null, null, MissingUppercase },
        { "ALL UPPERCASE WORDS", "lowercase", null, null, MissingLowercase },
        { "no digits in this one", "digit", null, null, MissingDigit },
        { "nosymbolsinthisoneeither7", "symbol", null, null, MissingSymbol },
        { "my name is jane.doe ok", "none", "jane.doe", null, ContainsUsername },
        { "I AM JANE.DOE, REALLY", "none", " Jane.Doe ", null, ContainsUsername },
        { "secret of jdoe99 here", "none", null, "jdoe99@example.com", ContainsEmail },
        { "secret of JDoe99 here", "none", null, "jdoe99@example.com", ContainsEmail },
        { "qwerty123456", "none", null, null, TooCommon },
        { "QWERTY123456", "none", null, null, TooCommon },
        { "1QAZ2wsx3EDC", "none", null, null, TooCommon },
        // Eleven "é", each typed as "e" plus a combining accent: 22 UTF-16 units, but 11 characters once normalised.
        { string.Concat(Enumerable.Repeat("e\u0301", 11)), "none", null, null, TooShort },
    };

    [Theory]
    [MemberData(nameof(EachRule))]
    public void Each_rule_is_reported_by_its_code(string password, string requirement, string? username, string? email, string code)
    {
        var violations = PasswordRules.Check(password, Policy(requirement), username, email, Common);

        Assert.Equal([code], violations.Select(v => v.Code));
        Assert.False(string.IsNullOrWhiteSpace(violations[0].Message));
    }

    [Theory]
    [InlineData("Correct-Horse-7-Battery", "all", null, null)]
    [InlineData("correct horse battery staple", "none", "jane.doe", "jane.doe@example.com")]
    [InlineData("no digits here 1A", "symbol")]                                   // a space is a symbol
    [InlineData("Ähnlich genug 12", "uppercase")]                                 // uppercase beyond ASCII
    [InlineData("٣ arabic-indic digit", "digit")]
    [InlineData("jd is twelve chars", "none", "jd", "jd@example.com")]           // too short to count as personal data
    [InlineData("qwerty123456", "none", null, null, false)]                      // common passwords allowed by policy
    [InlineData("jane.doe forever!", "none", "jane.doe", "jane.doe@example.com", true, false)]
    public void Acceptable_passwords_pass(
        string password, string requirement, string? username = null, string? email = null, bool rejectCommon = true, bool rejectPersonal = true)
    {
        var policy = Policy(requirement) with { RejectCommon = rejectCommon, RejectContainsUsername = rejectPersonal };

        Assert.Empty(PasswordRules.Check(password, policy, username, email, Common));
    }

    [Fact]
    public void Composed_and_decomposed_accents_count_the_same()
    {
        var composed = new string('\u00e9', 12);
        var decomposed = string.Concat(Enumerable.Repeat("e\u0301", 12));

        Assert.Empty(PasswordRules.Check(composed, PasswordPolicy.Default, null, null, Common));
        Assert.Empty(PasswordRules.Check(decomposed, PasswordPolicy.Default, null, null, Common));
    }

    [Fact]
    public void A_password_that_breaks_several_rules_gets_every_code_at_once()
    {
        var violations = PasswordRules.Check("janedoe", Strict, "janedoe", "janedoe@example.com", Common);

        Assert.Equal(
            [TooShort, MissingUppercase, MissingDigit, MissingSymbol, ContainsUsername, ContainsEmail],
            violations.Select(v => v.Code));
    }

    [Fact]
    public void A_common_short_password_is_both_too_short_and_too_common()
    {
        var violations = PasswordRules.Check("Password123", Strict, null, null, Common);

        Assert.Equal([TooShort, MissingSymbol, TooCommon], violations.Select(v => v.Code));
    }

    [Fact]
    public void A_lone_surrogate_is_judged_rather_than_thrown_on()
        => Assert.Equal([TooShort], PasswordRules.Check("abc\ud800", PasswordPolicy.Default, null, null, Common).Select(v => v.Code));

    [Fact]
    public void Reuse_and_confirmation_codes_exist_for_the_checks_made_elsewhere()
    {
        Assert.Equal("reused", Reused);
        Assert.Equal("confirmation_mismatch", ConfirmationMismatch);
    }

    private static PasswordPolicy Policy(string requirement) => requirement switch
    {
        "none" => PasswordPolicy.Default,
        "all" => Strict,
        "uppercase" => PasswordPolicy.Default with { RequireUppercase = true },
        "lowercase" => PasswordPolicy.Default with { RequireLowercase = true },
        "digit" => PasswordPolicy.Default with { RequireDigit = true },
        "symbol" => PasswordPolicy.Default with { RequireSymbol = true },
        _ => throw new ArgumentOutOfRangeException(nameof(requirement), requirement, "Unknown requirement."),
    };
}
