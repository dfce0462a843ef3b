namespace Tessera.Core.Users;

/// <summary>Which of the supported languages a person is written to in, where no page tells it.</summary>
public static class PreferredLanguage
{
    /// <summary>
    /// The language of a mail: the recipient's profile language (they chose it), else the language of the Back Office
    /// request that caused the mail (an administrator inviting in German, a German browser asking for a reset link),
    /// else English. Unsupported values count as none.
    /// </summary>
    public static string ForMail(string? recipientLanguage, string? requestLanguage)
        => UserPreferences.Language(recipientLanguage) ?? UserPreferences.Language(requestLanguage) ?? UserPreferences.DefaultLanguage;
}
