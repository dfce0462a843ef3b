namespace Tessera.Core.Governance;

/// <summary>
/// Which operations need a second person (<see cref="ApprovalOperations"/>), and how long a change request waits
/// for one. The default puts nothing under approval, so that a first installation stays easy to set up.
/// </summary>
public sealed record ApprovalPolicy(IReadOnlyList<string>? Operations, int RequestLifetimeHours = ApprovalPolicy.DefaultLifetimeHours)
{
    public const int DefaultLifetimeHours = 72;
    public const int MaxLifetimeHours = 720;

    /// <summary>
    /// The operation under which a change to this policy that removes an operation is stored for approval, while any
    /// operation is on: otherwise one administrator could switch four-eyes off alone and then act alone.
    /// </summary>
    public const string ChangeApprovalPolicy = "change_approval_policy";

    public static ApprovalPolicy Default { get; } = new([], DefaultLifetimeHours);

    public bool Requires(string operation) => Operations?.Contains(operation, StringComparer.Ordinal) == true;

    /// <summary>Any operation on: the four-eyes principle applies to something.</summary>
    public bool Any => Operations is { Count: > 0 };

    /// <summary>Per-member problems of the policy as input; empty when it is valid.</summary>
    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (Operations is null)
        {
            errors["operations"] = ["operations is required (an empty list puts nothing under approval)."];
        }
        else if (Operations.Where(o => o is null || !ApprovalOperations.Exists(o)).ToList() is { Count: > 0 } unknown)
        {
            errors["operations"] = [$"Unknown operation{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Select(o => $"'{o}'"))}; known: {string.Join(", ", ApprovalOperations.All)}."];
        }

        if (RequestLifetimeHours is < 1 or > MaxLifetimeHours)
        {
            errors["requestLifetimeHours"] = [$"requestLifetimeHours must be between 1 and {MaxLifetimeHours}."];
        }

        return errors;
    }

    /// <summary>The same policy with each operation once, in the catalog's order (so that equal policies compare equal).</summary>
    public ApprovalPolicy Normalized()
        => this with { Operations = [.. ApprovalOperations.All.Where(o => Operations?.Contains(o, StringComparer.Ordinal) == true)] };

    /// <summary>The operations <paramref name="after"/> no longer puts under approval.</summary>
    public IReadOnlyList<string> Removed(ApprovalPolicy after)
        => [.. (Operations ?? []).Where(o => !after.Requires(o))];

    /// <summary>
    /// True when replacing this policy by <paramref name="after"/> weakens the four-eyes control: it removes an operation.
    /// A changed lifetime does not: a request that waits longer still needs its second person.
    /// </summary>
    public bool IsRelaxedBy(ApprovalPolicy after) => Removed(after).Count > 0;
}
