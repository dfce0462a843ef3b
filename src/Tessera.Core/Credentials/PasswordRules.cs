using System.Text;

namespace Tessera.Core.Credentials;

/// <summary>One way a proposed password fails the policy: a stable code and a message for the person choosing it.</summary>
public sealed record PasswordViolation(string Code, string Message)
{
    /// <summary>For <see cref="PasswordViolationCodes.TooWeak"/>: what makes the password easy to guess, when that is known.</summary>
    public string? Warning { get; init; }

    /// <summary>For <see cref="PasswordViolationCodes.TooWeak"/>: what to do instead.</summary>
    public IReadOnlyList<string>? Suggestions { get; init; }
}

/// <summary>The stable codes of password violations, as the API and the UI see them.</summary>
public static class PasswordViolationCodes
{
    public const string TooShort = "too_short";
    public const string TooLong = "too_long";
    public const string MissingUppercase = "missing_uppercase";
    public const string MissingLowercase = "missing_lowercase";
    public const string MissingDigit = "missing_digit";
    public const string MissingSymbol = "missing_symbol";
    public const string ContainsUsername = "contains_username";
    public const string ContainsEmail = "contains_email";
    public const string TooCommon = "too_common";

    /// <summary>The estimated strength (zxcvbn's score, 0–4) is below the policy's <see cref="PasswordPolicy.MinStrength"/>.</summary>
    public const string TooWeak = "too_weak";

    /// <summary>The password is one of the user's last passwords; checked against stored hashes, not here.</summary>
    public const string Reused = "reused";

    /// <summary>The password and its confirmation differ; checked where both are entered.</summary>
    public const string ConfirmationMismatch = "confirmation_mismatch";
}

/// <summary>Checks a proposed password against a <see cref="PasswordPolicy"/>.</summary>
public static class PasswordRules
{
    // Shorter names or local parts would refuse too many good passwords by accident ("al" in "walrus").
    public const int MinPersonalDataLength = 3;

    /// <summary>
    /// Every rule the password breaks, all at once so the person can fix them in one go; empty when it is acceptable.
    /// Reuse of earlier passwords is checked elsewhere, against their hashes.
    /// </summary>
    public static IReadOnlyList<PasswordViolation> Check(
        string password,
        PasswordPolicy policy,
        string? username,
        string? email,
        ICommonPasswords common)
        => Check(password, policy, username, email, common, strength: null);

    /// <summary>
    /// As above, and, given an estimator, the estimated strength against <see cref="PasswordPolicy.MinStrength"/>, with
    /// the estimator's warning and suggestions on the violation. Personal data (username, email, names) counts as
    /// the first thing a guesser tries.
    /// </summary>
    public static IReadOnlyList<PasswordViolation> Check(
        string password,
        PasswordPolicy policy,
        string? username,
        string? email,
        ICommonPasswords common,
        IPasswordStrengthEstimator? strength,
        params IEnumerable<string?> personalData)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(common);

        var violations = new List<PasswordViolation>();

        // Length is the UTF-16 length after NFC normalisation: "é" typed as one character or as "e" plus an
        // accent counts once either way, while characters outside the Basic Multilingual Plane (emoji) count
        // twice, as they do for every other length limit that sees the string.
        var normalized = Normalize(password);
        if (normalized.Length < policy.MinLength)
        {
            violations.Add(new(PasswordViolationCodes.TooShort, $"Use at least {policy.MinLength} characters."));
        }

        if (normalized.Length > policy.MaxLength)
        {
            violations.Add(new(PasswordViolationCodes.TooLong, $"Use at most {policy.MaxLength} characters."));
        }

        bool hasUpper = false, hasLower = false, hasDigit = false, hasSymbol = false;
        foreach (var rune in normalized.EnumerateRunes())
        {
            hasUpper |= Rune.IsUpper(rune);
            hasLower |= Rune.IsLower(rune);
            hasDigit |= Rune.IsDigit(rune);

            // Anything that is neither a letter nor a digit counts, a space included (as in OWASP's list).
            hasSymbol |= !Rune.IsLetterOrDigit(rune);
        }

        if (policy.RequireUppercase && !hasUpper)
        {
            violations.Add(new(PasswordViolationCodes.MissingUppercase, "Include an uppercase letter."));
        }

        if (policy.RequireLowercase && !hasLower)
        {
            violations.Add(new(PasswordViolationCodes.MissingLowercase, "Include a lowercase letter."));
        }

        if (policy.RequireDigit && !hasDigit)
        {
            violations.Add(new(PasswordViolationCodes.MissingDigit, "Include a digit."));
        }

        if (policy.RequireSymbol && !hasSymbol)
        {
            violations.Add(new(PasswordViolationCodes.MissingSymbol, "Include a symbol: a character that is neither a letter nor a digit."));
        }

        if (policy.RejectContainsUsername)
        {
            if (Contains(normalized, username?.Trim()))
            {
                violations.Add(new(PasswordViolationCodes.ContainsUsername, "Do not use your username in your password."));
            }

            if (Contains(normalized, LocalPart(email)))
            {
                violations.Add(new(PasswordViolationCodes.ContainsEmail, "Do not use your email address in your password."));
            }
        }

        if (policy.RejectCommon && common.Contains(normalized))
        {
            violations.Add(new(PasswordViolationCodes.TooCommon, "This password is one of the most common ones; choose one that is harder to guess."));
        }

        // Strength is judged last, and only of a password of acceptable length: a short or overlong one is refused
        // already, and zxcvbn's cost grows with length.
        if (strength is not null && policy.MinStrength > 0 && violations.All(v => v.Code is not (PasswordViolationCodes.TooShort or PasswordViolationCodes.TooLong)))
        {
            string?[] personal = [username, email, LocalPart(email), .. personalData];
            var estimate = strength.Estimate(normalized, personal.OfType<string>());
            if (estimate.Score < policy.MinStrength)
            {
                violations.Add(new(PasswordViolationCodes.TooWeak,
                    $"This password is too easy to guess (strength {estimate.Score} of 4; the policy asks for at least {policy.MinStrength}).")
                {
                    Warning = estimate.Warning,
                    Suggestions = estimate.Suggestions,
                });
            }
        }

        return violations;
    }

    private static string Normalize(string password)
    {
        try
        {
            return password.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            // A lone surrogate cannot be normalised; judge the password as typed rather than refuse to judge it.
            return password;
        }
    }

    private static string? LocalPart(string? email)
    {
        var at = email?.IndexOf('@', StringComparison.Ordinal) ?? -1;
        return at > 0 ? email![..at].Trim() : null;
    }

    private static bool Contains(string password, string? personalData)
        => personalData is { Length: >= MinPersonalDataLength }
        && password.Contains(personalData, StringComparison.OrdinalIgnoreCase);
}
