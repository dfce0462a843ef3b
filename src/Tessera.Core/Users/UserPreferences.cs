namespace Tessera.Core.Users;

/// <summary>
/// The Back Office preferences a user keeps on the profile page: the language of pages and mail, and the time zone
/// in which dates are shown. Both are optional; without them the browser's language and UTC apply.
/// </summary>
public static class UserPreferences
{
    public const int MaxLanguageLength = 8;
    public const int MaxTimeZoneLength = 64;

    /// <summary>The languages the Back Office and its mail are written in; the first is the default.</summary>
    public static readonly IReadOnlyList<string> Languages = ["en", "de"];

    public const string DefaultLanguage = "en";

    /// <summary>The language to use when a user chose <paramref name="language"/>: a supported one, else null (follow the browser).</summary>
    public static string? Language(string? language)
    {
        if (string.IsNullOrWhiteSpace(language))
        {
            return null;
        }

        foreach (var supported in Languages)
        {
            if (string.Equals(supported, language.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return supported;
            }
        }

        return null;
    }

    /// <summary>Why a language choice is refused, or null when it is empty (follow the browser) or supported.</summary>
    public static string? LanguageProblem(string? language)
        => string.IsNullOrWhiteSpace(language) || Language(language) is not null
            ? null
            : $"The language must be one of: {string.Join(", ", Languages)}.";

    /// <summary>
    /// Why a time zone is refused, or null when it is empty (UTC) or a time zone the host knows by its IANA name
    /// (`Europe/Berlin`). Windows names and offsets are refused so that the stored value means the same on every host.
    /// </summary>
    public static string? TimeZoneProblem(string? timeZone)
    {
        if (string.IsNullOrWhiteSpace(timeZone))
        {
            return null;
        }

        if (timeZone.Length > MaxTimeZoneLength || !timeZone.Contains('/') && timeZone != "UTC")
        {
            return "The time zone must be an IANA name such as Europe/Berlin, or UTC.";
        }

        return FindTimeZone(timeZone) is null ? $"The time zone '{timeZone}' is not known." : null;
    }

    /// <summary>The time zone by its IANA name, or null when the host does not know it.</summary>
    public static TimeZoneInfo? FindTimeZone(string? timeZone)
    {
        if (string.IsNullOrWhiteSpace(timeZone))
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }

    /// <summary>The IANA time zones the profile page offers, UTC first.</summary>
    public static IReadOnlyList<string> TimeZones()
        => ["UTC", .. TimeZoneInfo.GetSystemTimeZones().Select(z => z.Id).Where(id => id.Contains('/') && !id.StartsWith("Etc/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
}
