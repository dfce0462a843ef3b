using Tessera.Core.Common;

namespace Tessera.Core.Credentials;

/// <summary>What an API user's credential is: a secret it presents, or a public key its signed assertions are checked against.</summary>
public enum ApiCredentialType
{
    Secret,
    PublicKey,
}

/// <summary>
/// The rules of API users' credentials. An API user holds several named credentials, so that a client moves
/// from one to the next without a moment in which neither works (add, switch the client, delete the old one).
/// Each may expire; an expired one fails exactly as a wrong one does, and stays listed until someone deletes it.
/// </summary>
public static class ApiCredentialRules
{
    public const int MaxNameLength = 100;

    /// <summary>The name the administrator-chosen secret of <c>POST /users/{id}/password</c> carries.</summary>
    public const string InitialName = "initial";

    /// <summary>Warnings go out this many days before a credential expires, the earlier first.</summary>
    public static readonly IReadOnlyList<int> NoticeDays = [14, 3];

    /// <summary>The Back Office highlights a credential from this many days before it expires.</summary>
    public const int SoonDays = 14;

    public static string ToWire(this ApiCredentialType type) => type == ApiCredentialType.PublicKey ? "public_key" : "secret";

    public static bool TryParseType(string? wire, out ApiCredentialType type)
    {
        switch (wire)
        {
            case "secret": type = ApiCredentialType.Secret; return true;
            case "public_key": type = ApiCredentialType.PublicKey; return true;
            default: type = default; return false;
        }
    }

    /// <summary>The name as compared for uniqueness on one user: trimmed, case-insensitive.</summary>
    public static string NormalizeName(string name) => name.Trim().ToUpperInvariant();

    /// <summary>Null when the name is acceptable; else the message for the <c>name</c> field.</summary>
    public static string? ValidateName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "A name is required, such as the system and the year: \"erp-2027\".";
        }

        if (name.Trim().Length > MaxNameLength)
        {
            return $"The name is at most {MaxNameLength} characters.";
        }

        return name.Any(char.IsControl) ? "The name cannot contain control characters." : null;
    }

    /// <summary>Null when the expiry is acceptable at <paramref name="now"/>; else the message for the <c>expiresAt</c> field.</summary>
    public static string? ValidateExpiry(DateTime? expiresAt, DateTime now)
        => expiresAt is { } at && at <= now ? "The expiry must be in the future." : null;

    /// <summary>Expired at <paramref name="now"/>: from the expiry instant on, the credential no longer authenticates.</summary>
    public static bool IsExpired(DateTime? expiresAt, DateTime now) => expiresAt is { } at && at <= now;

    /// <summary>Unexpired, but ending within <see cref="SoonDays"/> days.</summary>
    public static bool ExpiresSoon(DateTime? expiresAt, DateTime now)
        => expiresAt is { } at && at > now && at - now <= TimeSpan.FromDays(SoonDays);

    /// <summary>
    /// The expiry warning owed at <paramref name="now"/> (14 or 3 days), or null: the most urgent threshold reached
    /// and not yet warned of. A credential created with two days left gets the 3-day warning only; an expired one, none.
    /// </summary>
    public static int? ExpiryNoticeDue(DateTime? expiresAt, int? lastNoticeDays, DateTime now)
    {
        if (expiresAt is not { } at || at <= now)
        {
            return null;
        }

        var left = at - now;
        int? due = null;
        foreach (var days in NoticeDays)
        {
            if (left <= TimeSpan.FromDays(days))
            {
                due = days;
            }
        }

        return due is { } d && (lastNoticeDays is null || d < lastNoticeDays) ? d : null;
    }

    /// <summary>Whole days left (rounded up) for the warning's text.</summary>
    public static int DaysLeft(DateTime expiresAt, DateTime now) => (int)Math.Ceiling((expiresAt - now).TotalDays);

    /// <summary>Whether a use at <paramref name="now"/> should be written, given the one stored.</summary>
    public static bool ShouldRecordUse(DateTime? lastUsedAt, DateTime now) => UseStamp.IsDue(lastUsedAt, now);

    public static Failure InvalidName(string message) => Failure.Invalid("validation_failed", message, new Dictionary<string, string[]> { ["name"] = [message] });
}
