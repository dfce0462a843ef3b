using Tessera.Core.Credentials;

namespace Tessera.Core.Tests;

public class CommonPasswordsTests
{
    private readonly CommonPasswords common = new();

    [Fact]
    public void The_shipped_list_holds_at_least_ten_thousand_passwords() => Assert.InRange(common.Count, 10_000, int.MaxValue);

    [Theory]
    [InlineData("password")]
    [InlineData("PASSWORD")]
    [InlineData("Password123")]
    [InlineData("PASSW0RD")]
    [InlineData("LetMeIn")]
    [InlineData("iloveyou")]
    [InlineData("TrustNo1")]
    [InlineData("QWERTY123")]
    [InlineData("1qaz2wsx3edc")]
    public void Common_passwords_are_recognised_in_any_case(string password) => Assert.True(common.Contains(password));

    [Theory]
    [InlineData("Correct-Horse-7-Battery")]
    [InlineData("")]
    [InlineData("password ")]
    public void Other_passwords_are_not_on_the_list(string password) => Assert.False(common.Contains(password));
}
