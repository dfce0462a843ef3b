using Microsoft.Extensions.Localization;
using Tessera.Server.BackOffice.Localization;
using System.Globalization;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Tessera.Core.Governance;

namespace Tessera.Server.BackOffice;

/// <summary>
/// The optional "valid from" and "valid until" inputs of one role grant or membership in a Back Office form, in UTC
/// as <c>datetime-local</c> writes them. <see cref="Key"/> names the role or the member.
/// </summary>
public sealed class ValidityField
{
    public string? Key { get; set; }

    public string? From { get; set; }

    public string? Until { get; set; }
}

public static class ValidityFields
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss";

    /// <summary>An instant as the input shows it (UTC, to the second); empty for an open end.</summary>
    public static string Text(DateTime? at) => at?.ToString(Format, CultureInfo.InvariantCulture) ?? "";

    /// <summary>
    /// How a range reads beside the assignment, in the page's language and the user's time zone: "for good",
    /// "until 2027-01-31 00:00 UTC", "from … until …" (the zone is named: the inputs beside it are in UTC).
    /// </summary>
    public static string Describe(DateTime? from, DateTime? until, IStringLocalizer<SharedText> text, UserTime time) => (from, until) switch
    {
        (null, null) => text["for good"],
        ({ } f, null) => text["from {0}", time.TextWithZone(f)],
        (null, { } u) => text["until {0}", time.TextWithZone(u)],
        ({ } f, { } u) => text["from {0} until {1}", time.TextWithZone(f), time.TextWithZone(u)],
    };

    /// <summary>
    /// The range posted for <paramref name="key"/>. An input that still shows the stored instant keeps the stored one
    /// exactly (the form shows whole seconds), so that saving a form unchanged changes no range; an input that cannot
    /// be read is a model error on <paramref name="inputName"/>.
    /// </summary>
    public static Validity Read(IEnumerable<ValidityField> posted, string key, Validity stored, ModelStateDictionary state, string inputName)
    {
        var field = posted.FirstOrDefault(f => string.Equals(f.Key, key, StringComparison.OrdinalIgnoreCase));
        return field is null ? stored : new Validity(Instant(field.From, stored.From, "valid from"), Instant(field.Until, stored.Until, "valid until"));

        DateTime? Instant(string? text, DateTime? kept, string label)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            if (text.Trim() == Text(kept))
            {
                return kept;
            }

            if (DateTime.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                return at;
            }

            state.AddModelError(inputName, $"The {label} date of {key} is not a date and time.");
            return null;
        }
    }
}
