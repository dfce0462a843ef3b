namespace Tessera.Core.Customers;

/// <summary>What a storefront customer's reference and status must look like, and how references compare.</summary>
public static class CustomerRules
{
    public const int MaxReferenceLength = 100;
    public const int MaxNameLength = 100;
    public const string Active = "active";
    public const string Disabled = "disabled";

    /// <summary>The form under which uniqueness is decided: case and surrounding space do not count.</summary>
    public static string NormalizeReference(string reference) => reference.Trim().ToUpperInvariant();

    /// <summary>Null when the reference is acceptable, else a sentence saying why not.</summary>
    public static string? ValidateReference(string? reference)
    {
        if (string.IsNullOrWhiteSpace(reference))
        {
            return "Reference is required.";
        }

        if (reference.Length > MaxReferenceLength)
        {
            return $"Reference must be 1 to {MaxReferenceLength} characters long.";
        }

        foreach (var c in reference)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return "Reference may contain only letters, digits and . _ -.";
            }
        }

        return null;
    }

    /// <summary>The status as stored ('active' or 'disabled'), or null when it is neither.</summary>
    public static string? ParseStatus(string? status) => status?.Trim().ToLowerInvariant() switch
    {
        Active => Active,
        Disabled => Disabled,
        _ => null,
    };

    /// <summary>Null when the name fits, else a sentence naming the field.</summary>
    public static string? ValidateName(string field, string? name)
        => name?.Trim().Length > MaxNameLength ? $"{field} can be at most {MaxNameLength} characters." : null;
}
