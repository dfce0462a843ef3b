using Tessera.Core.Users;

namespace Tessera.Core.Tests;

public class UsernameRulesTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("jane.doe")]
    [InlineData("jane_doe-2@shop")]
    [InlineData("A1234567890123456789012345678901234567890123456789012345678901b")]
    public void Acceptable_usernames_pass(string username) => Assert.Null(Usernames.Validate(username));

    [Theory]
    [InlineData("")]
    [InlineData("ab")]
    [InlineData("jane doe")]
    [InlineData("jane/doe")]
    [InlineData("jäne")]
    [InlineData("A12345678901234567890123456789012345678901234567890123456789012bc")]
    public void Unacceptable_usernames_are_refused(string username) => Assert.NotNull(Usernames.Validate(username));

    [Theory]
    [InlineData("Jane.Doe", "jane.doe")]
    [InlineData(" ADMIN ", "admin")]
    public void Usernames_compare_ignoring_case_and_surrounding_space(string a, string b)
        => Assert.Equal(Usernames.Normalize(a), Usernames.Normalize(b));

    [Theory]
    [InlineData("modular.system")]
    [InlineData("MODULAR.SYSTEM")]
    public void The_reserved_user_is_recognised_in_any_case(string username) => Assert.True(Usernames.IsReserved(username));

    [Theory]
    [InlineData("jane@example.com", true)]
    [InlineData("jane.doe+tag@mail.example.org", true)]
    [InlineData("jane", false)]
    [InlineData("jane@", false)]
    [InlineData("@example.com", false)]
    [InlineData("jane@example", false)]
    [InlineData("jane doe@example.com", false)]
    [InlineData("a@b@example.com", false)]
    [InlineData("Jane <jane@example.com>", false)]
    public void Emails_are_validated(string email, bool valid) => Assert.Equal(valid, Usernames.ValidateEmail(email) is null);
}

public class PersonNameRulesTests
{
    [Theory]
    [InlineData("Jane\r\nClick here: http://evil.example")]
    [InlineData("Jane\n")]
    [InlineData("Ja\0ne")]
    [InlineData("Jane\tDoe")]
    [InlineData("Jane\u2028Doe")]
    [InlineData("Jane\u0085")]
    public void Names_with_control_characters_are_refused(string name) => Assert.True(PersonNames.HasControlCharacters(name));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Jane")]
    [InlineData("Zoë O'Brien-Smith")]
    [InlineData("Владимир")]
    public void Ordinary_names_pass(string? name) => Assert.False(PersonNames.HasControlCharacters(name));
}
