namespace Tessera.Core.Credentials;

/// <summary>The company's rules for passwords, sign-in lockout and the lifetime of invitation and reset links.</summary>
public sealed record PasswordPolicy
{
    /// <summary>The policy of a new installation, in line with current NIST guidance: length over composition.</summary>
    public static PasswordPolicy Default { get; } = new();

    public int MinLength { get; init; } = 12;

    public int MaxLength { get; init; } = 128;

    public bool RequireUppercase { get; init; }

    public bool RequireLowercase { get; init; }

    public bool RequireDigit { get; init; }

    public bool RequireSymbol { get; init; }

    /// <summary>Refuse passwords that contain the username or the local part of the email address.</summary>
    public bool RejectContainsUsername { get; init; } = true;

    /// <summary>Refuse passwords on the shipped list of common passwords.</summary>
    public bool RejectCommon { get; init; } = true;

    /// <summary>
    /// The least estimated strength a password needs, zxcvbn's score from 0 to 4: 0 checks nothing, 3 (the default)
    /// asks for a password that resists an offline attack on a slow hash for months, 4 for centuries.
    /// </summary>
    public int MinStrength { get; init; } = 3;

    /// <summary>How many previous passwords a user may not reuse; 0 allows any.</summary>
    public int HistoryCount { get; init; } = 5;

    /// <summary>Days after which a password must be changed; 0 means never.</summary>
    public int MaxAgeDays { get; init; }

    /// <summary>Failed sign-ins in a row that lock the account.</summary>
    public int LockoutThreshold { get; init; } = 5;

    public int LockoutMinutes { get; init; } = 15;

    public int InvitationLifetimeHours { get; init; } = 72;

    public int ResetLifetimeHours { get; init; } = 1;

    /// <summary>
    /// What is wrong with this policy, keyed by camelCase field name; empty when it is acceptable.
    /// The bounds keep an administrator from weakening security below a floor (8 characters, lockout on)
    /// or from locking people out for good (maximum length at least 64, so passphrases and password managers work).
    /// </summary>
    public IReadOnlyDictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();

        if (MinLength < 8)
        {
            errors["minLength"] = ["Must be at least 8."];
        }
        else if (MinLength > MaxLength)
        {
            errors["minLength"] = [$"Must not exceed the maximum length ({MaxLength})."];
        }

        InRange(errors, "maxLength", MaxLength, 64, 1024);
        InRange(errors, "minStrength", MinStrength, 0, 4);
        InRange(errors, "historyCount", HistoryCount, 0, 24);
        InRange(errors, "maxAgeDays", MaxAgeDays, 0, 3650);
        InRange(errors, "lockoutThreshold", LockoutThreshold, 1, 100);
        InRange(errors, "lockoutMinutes", LockoutMinutes, 1, 1440);
        InRange(errors, "invitationLifetimeHours", InvitationLifetimeHours, 1, 720);
        InRange(errors, "resetLifetimeHours", ResetLifetimeHours, 1, 72);
        return errors;
    }

    private static void InRange(Dictionary<string, string[]> errors, string field, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors[field] = [$"Must be between {min} and {max}."];
        }
    }
}
