namespace Tessera.Server.Passkeys;

/// <summary>What a passkey's user-given name must be: 1 to 64 characters once trimmed, and no control characters.</summary>
public static class PasskeyNames
{
    public const int MaxLength = 64;

    /// <summary>The trimmed name, or null with the reason it is refused.</summary>
    public static (string? Name, string? Problem) Check(string? name)
    {
        var trimmed = name?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            return (null, "Give the passkey a name, so that you can tell it apart later.");
        }

        if (trimmed.Length > MaxLength)
        {
            return (null, $"The name is longer than {MaxLength} characters.");
        }

        // Control and format characters (line breaks, bidi overrides) would disguise the name in lists and the audit log.
        if (trimmed.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format))
        {
            return (null, "The name contains control characters.");
        }

        return (trimmed, null);
    }
}
