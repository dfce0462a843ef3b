using System.Net.Mail;
using System.Text;

namespace Tessera.Core.Users;

/// <summary>What a username and an email address must look like, and how they compare.</summary>
public static class Usernames
{
    public const int MinLength = 3;
    public const int MaxLength = 64;
    public const int MaxEmailLength = 254;

    /// <summary>The maintenance user that exists everywhere and that nobody may change or sign in as.</summary>
    public const string Reserved = "modular.system";

    public static readonly string ReservedNormalized = Normalize(Reserved);

    /// <summary>
    /// The form under which uniqueness is decided: case, surrounding space and compatibility forms do not count
    /// (<see cref="Canonical"/>). Look-alikes are a separate question: <see cref="Common.Confusables"/>.
    /// </summary>
    public static string Normalize(string value) => Canonical(value).ToUpperInvariant();

    /// <summary>
    /// A name or email address as Tessera stores it: trimmed, in Unicode normalization form KC, so that a
    /// fullwidth "ａ" or a ligature "ﬁ" is the letter or letters it stands for. A string that cannot be
    /// normalised (a lone surrogate) is kept as typed; validation refuses it.
    /// </summary>
    public static string Canonical(string value)
    {
        var trimmed = value.Trim();
        try
        {
            return trimmed.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return trimmed;
        }
    }

    public static bool IsReserved(string username) => Normalize(username) == ReservedNormalized;

    /// <summary>Null when the username is acceptable, else a sentence saying why not.</summary>
    public static string? Validate(string? username)
    {
        if (string.IsNullOrWhiteSpace(username))
        {
            return "Username is required.";
        }

        if (username.Length < MinLength || username.Length > MaxLength)
        {
            return $"Username must be {MinLength} to {MaxLength} characters long.";
        }

        foreach (var c in username)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@'))
            {
                return "Username may contain only letters, digits and . _ - @.";
            }
        }

        return null;
    }

    /// <summary>Null when the email address is acceptable, else a sentence saying why not.</summary>
    public static string? ValidateEmail(string? email)
    {
        if (string.IsNullOrWhiteSpace(email))
        {
            return "Email is required.";
        }

        if (email.Length > MaxEmailLength || email != email.Trim())
        {
            return "Email is not a valid address.";
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1 || !email[(at + 1)..].Contains('.', StringComparison.Ordinal)
            || email.Any(char.IsWhiteSpace))
        {
            return "Email is not a valid address.";
        }

        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
        {
            return "Email is not a valid address.";
        }

        return null;
    }
}
