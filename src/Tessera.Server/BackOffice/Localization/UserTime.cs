using System.Globalization;
using Microsoft.AspNetCore.Html;
using Tessera.Core.Users;

namespace Tessera.Server.BackOffice.Localization;

/// <summary>
/// Shows instants in the signed-in user's time zone (a profile setting; UTC without one) and language. Each is
/// written as a &lt;time&gt; element that carries the exact UTC instant, and whose title names the zone.
/// </summary>
public sealed class UserTime(IHttpContextAccessor accessor)
{
    private TimeZoneInfo? _zone;

    public TimeZoneInfo Zone => _zone ??= Resolve();

    /// <summary>The zone's IANA name, as shown beside dates ("UTC", "Europe/Berlin").</summary>
    public string ZoneName => Zone.Id == TimeZoneInfo.Utc.Id ? "UTC" : Zone.Id;

    /// <summary>The instant in the user's zone, as a value (for forms and computations).</summary>
    public DateTime Local(DateTime utc) => TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), Zone);

    /// <summary>
    /// Date and time to the minute as the page's language writes it: 03.12.2026 19:43 in German; in English the
    /// unambiguous 2026-12-03 19:43 rather than the American 12/3/2026 7:43 PM that the neutral "en" culture would give.
    /// </summary>
    public string Text(DateTime? utc) => utc is { } at ? Local(at).ToString(German ? "dd.MM.yyyy HH:mm" : "yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "";

    /// <summary>The date alone, written as <see cref="Text"/> writes it; empty for null.</summary>
    public string DateText(DateTime? utc) => utc is { } at ? Local(at).ToString(German ? "dd.MM.yyyy" : "yyyy-MM-dd", CultureInfo.InvariantCulture) : "";

    /// <summary>Date and time followed by the zone's name ("2026-12-03 19:43 UTC"), for text that stands alone.</summary>
    public string TextWithZone(DateTime? utc) => utc is null ? "" : $"{Text(utc)} {ZoneName}";

    private static bool German => CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "de";

    /// <summary>A &lt;time&gt; element: the local date and time, the UTC instant in datetime, the zone in the title.</summary>
    public IHtmlContent Show(DateTime? utc)
    {
        if (utc is not { } at)
        {
            return HtmlString.Empty;
        }

        var iso = DateTime.SpecifyKind(at, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var builder = new HtmlContentBuilder();
        builder.AppendHtml("<time datetime=\"").Append(iso).AppendHtml("\" title=\"").Append(ZoneName).AppendHtml("\">")
            .Append(Text(at)).AppendHtml("</time>");
        return builder;
    }

    private TimeZoneInfo Resolve()
    {
        var context = accessor.HttpContext;
        if (context is null || context.User.Identity?.IsAuthenticated != true)
        {
            return TimeZoneInfo.Utc;
        }

        // The localization middleware loaded the caller for this request already (BackOfficeLocalization), so this
        // reads the request's copy; the wait is only for a path that skipped it.
        var caller = context.CallerAsync().GetAwaiter().GetResult();
        return UserPreferences.FindTimeZone(caller?.TimeZone) ?? TimeZoneInfo.Utc;
    }
}
