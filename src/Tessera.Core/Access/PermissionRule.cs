using System.Diagnostics.CodeAnalysis;

namespace Tessera.Core.Access;

/// <summary>Whether a permission rule grants or forbids what it names.</summary>
public enum PermissionEffect
{
    Allow,
    Deny,
}

/// <summary>The wire names of <see cref="PermissionEffect"/> ("allow", "deny"), shared by the API, the UI and storage.</summary>
public static class PermissionEffects
{
    public static string ToWire(this PermissionEffect effect) => effect == PermissionEffect.Deny ? "deny" : "allow";

    public static bool TryParse(string? value, out PermissionEffect effect)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "allow": effect = PermissionEffect.Allow; return true;
            case "deny": effect = PermissionEffect.Deny; return true;
            default: effect = default; return false;
        }
    }
}

/// <summary>One permission of a role: allow or deny an action on a resource; either may be the wildcard <c>*</c>.</summary>
/// <remarks>
/// Resource and action are validated and lower-cased on construction, so every rule that exists is well-formed
/// and rules compare ignoring case. Use <see cref="TryParse"/> for input that may be wrong.
/// </remarks>
public sealed record PermissionRule(string Resource, string Action, PermissionEffect Effect)
{
    /// <summary>Stands for every resource or every action.</summary>
    public const string Wildcard = "*";

    public const int MaxResourceLength = 200;
    public const int MaxActionLength = 64;

    private readonly string resource = Checked(Resource, ValidateResource, nameof(Resource));
    private readonly string action = Checked(Action, ValidateAction, nameof(Action));
    private readonly PermissionEffect effect = CheckedEffect(Effect);

    /// <summary>A dotted section path such as <c>catalog.products</c>, or <c>*</c>; always lower-case.</summary>
    public string Resource
    {
        get => resource;
        init => resource = Checked(value, ValidateResource, nameof(Resource));
    }

    /// <summary>A plain action name such as <c>edit</c>, or <c>*</c>; always lower-case.</summary>
    public string Action
    {
        get => action;
        init => action = Checked(value, ValidateAction, nameof(Action));
    }

    public PermissionEffect Effect
    {
        get => effect;
        init => effect = CheckedEffect(value);
    }

    /// <summary>The rule from untrusted text, or the reasons per field (resource, action, effect) why it is not one.</summary>
    public static bool TryParse(
        string? resource,
        string? action,
        string? effect,
        [NotNullWhen(true)] out PermissionRule? rule,
        out IReadOnlyDictionary<string, string[]> errors)
    {
        var found = new Dictionary<string, string[]>();
        if (ValidateResource(resource) is { } resourceError)
        {
            found["resource"] = [resourceError];
        }

        if (ValidateAction(action) is { } actionError)
        {
            found["action"] = [actionError];
        }

        if (!PermissionEffects.TryParse(effect, out var parsedEffect))
        {
            found["effect"] = ["Effect must be \"allow\" or \"deny\"."];
        }

        errors = found;
        rule = found.Count == 0 ? new PermissionRule(resource!, action!, parsedEffect) : null;
        return rule is not null;
    }

    /// <summary>Null when the resource is acceptable, else a sentence saying why not.</summary>
    public static string? ValidateResource(string? resource)
    {
        if (string.IsNullOrEmpty(resource))
        {
            return "Resource is required.";
        }

        if (resource.Length > MaxResourceLength)
        {
            return $"Resource must be at most {MaxResourceLength} characters long.";
        }

        return resource == Wildcard || IsName(resource, dotted: true)
            ? null
            : "Resource must be * or sections of letters, digits, _ and - joined by dots, such as catalog.products.";
    }

    /// <summary>Null when the action is acceptable, else a sentence saying why not.</summary>
    public static string? ValidateAction(string? action)
    {
        if (string.IsNullOrEmpty(action))
        {
            return "Action is required.";
        }

        if (action.Length > MaxActionLength)
        {
            return $"Action must be at most {MaxActionLength} characters long.";
        }

        return action == Wildcard || IsName(action, dotted: false)
            ? null
            : "Action must be * or a name of letters, digits, _ and -, such as edit.";
    }

    /// <summary>Whether a question names one concrete resource (no wildcard), as <see cref="EffectiveAccess.Decide"/> requires.</summary>
    internal static bool IsConcreteResource(string? value)
        => value is { Length: > 0 and <= MaxResourceLength } && IsName(value, dotted: true);

    /// <summary>Whether a question names one concrete action (no wildcard).</summary>
    internal static bool IsConcreteAction(string? value)
        => value is { Length: > 0 and <= MaxActionLength } && IsName(value, dotted: false);

    // ASCII only: it keeps names unambiguous in every culture and lets case-insensitive lookups use
    // ordinal-ignore-case comparison, which is exact for ASCII.
    private static bool IsName(string value, bool dotted)
    {
        var sectionLength = 0;
        foreach (var c in value)
        {
            if (c == '.' && dotted)
            {
                if (sectionLength == 0)
                {
                    return false;
                }

                sectionLength = 0;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
            {
                sectionLength++;
            }
            else
            {
                return false;
            }
        }

        return sectionLength > 0;
    }

    private static string Checked(string value, Func<string?, string?> validate, string name)
        => validate(value) is { } error ? throw new ArgumentException(error, name) : value.ToLowerInvariant();

    private static PermissionEffect CheckedEffect(PermissionEffect value)
        => Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Effect must be Allow or Deny.");
}
