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

    /// <summary>How a range reads beside the assignment: "for good", "until 2027-01-31 00:00 UTC", "from … until …".</summary>
    public static string Describe(DateTime? from, DateTime? until)
    {
        static string At(DateTime at) => at.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        return (from, until) switch
        {
            (null, null) => "for good",
            (null, { } u) => "until " + At(u),
            ({ } f, null) => "from " + At(f),
            ({ } f, { } u) => $"from {At(f)} until {At(u)}",
        };
    }

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
