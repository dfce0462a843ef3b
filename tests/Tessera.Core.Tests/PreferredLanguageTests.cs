using Tessera.Core.Users;

namespace Tessera.Core.Tests;

public class PreferredLanguageTests
{
    [Theory]
    [InlineData("de", null, "de")]
    [InlineData("de", "en", "de")]
    [InlineData("en", "de", "en")]
    [InlineData(null, "de", "de")]
    [InlineData("", "de", "de")]
    [InlineData("fr", "de", "de")]
    [InlineData("DE", null, "de")]
    [InlineData(null, "fr", "en")]
    [InlineData(null, null, "en")]
    [InlineData("fr", "es", "en")]
    public void A_mail_is_in_the_recipients_language_else_the_requests_else_English(string? recipient, string? request, string expected)
        => Assert.Equal(expected, PreferredLanguage.ForMail(recipient, request));
}
