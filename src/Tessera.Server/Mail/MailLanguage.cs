using System.Globalization;
using Microsoft.AspNetCore.Localization;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Mail;

/// <summary>
/// The language a mail is written in and the time zone its dates are shown in. Chosen once, by <see cref="For"/>:
/// the recipient's profile language, else the language of the Back Office request that queued the mail, else
/// English (<see cref="PreferredLanguage.ForMail"/>); the recipient's time zone, else UTC.
/// </summary>
public sealed class MailLanguage
{
    public static readonly MailLanguage English = new(UserPreferences.DefaultLanguage, TimeZoneInfo.Utc);

    private MailLanguage(string code, TimeZoneInfo zone)
    {
        Code = code;
        Zone = zone;
        Culture = CultureInfo.GetCultureInfo(code);
    }

    /// <summary>The language code ("en", "de"): the suffix of the template files (invitation.de.html), none for English.</summary>
    public string Code { get; }

    public CultureInfo Culture { get; }

    public TimeZoneInfo Zone { get; }

    public bool IsDefault => Code == UserPreferences.DefaultLanguage;

    /// <param name="recipient">The user the mail goes to, when known.</param>
    /// <param name="request">
    /// The request that causes the mail. Only a Back Office request carries a language (the API is not localised, so
    /// an API call or a background job leaves it to the recipient's setting or English).
    /// </param>
    public static MailLanguage For(User? recipient, HttpContext? request)
    {
        var requested = request?.Features.Get<IRequestCultureFeature>()?.RequestCulture.UICulture.TwoLetterISOLanguageName;
        var code = PreferredLanguage.ForMail(recipient?.Language, requested);
        var zone = UserPreferences.FindTimeZone(recipient?.TimeZone) ?? TimeZoneInfo.Utc;
        return code == English.Code && zone == TimeZoneInfo.Utc ? English : new MailLanguage(code, zone);
    }

    /// <summary>An instant as the recipient reads it: in their zone, in the language's date order, the zone named ("2026-12-03 18:00 UTC", "03.12.2026 19:00 Europe/Berlin").</summary>
    public string Time(DateTime utc)
    {
        var local = TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), Zone);
        var pattern = Code == "de" ? "dd.MM.yyyy HH:mm" : "yyyy-MM-dd HH:mm";
        return local.ToString(pattern, CultureInfo.InvariantCulture) + " " + (Zone == TimeZoneInfo.Utc ? "UTC" : Zone.Id);
    }

    /// <summary>"in 3 days" / "in 3 Tagen": the few words a mail's values carry besides names and dates.</summary>
    public string InDays(int days) => Code switch
    {
        "de" => days == 1 ? "in 1 Tag" : $"in {days.ToString(CultureInfo.InvariantCulture)} Tagen",
        _ => days == 1 ? "in 1 day" : $"in {days.ToString(CultureInfo.InvariantCulture)} days",
    };

    /// <summary>What a mail shows for a reason nobody gave.</summary>
    public string NoneGiven => Code == "de" ? "(keine angegeben)" : "(none given)";

    public override string ToString() => Code;
}
