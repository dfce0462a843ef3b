namespace Tessera.Core.Common;

/// <summary>How an expected failure maps onto the caller's world (HTTP status, UI message).</summary>
public enum FailureKind
{
    Invalid,
    NotFound,
    Conflict,
    Forbidden,
    Unauthorized,
    TooManyRequests,

    /// <summary>
    /// Not applied yet: the change was stored for a second person's approval (four-eyes). An API answers 202
    /// with the change request; <see cref="Failure.Extensions"/> carries its <c>changeRequestId</c>.
    /// </summary>
    Deferred,
}

/// <summary>An expected failure of a use case: a stable machine-readable code and a human detail.</summary>
public sealed record Failure(FailureKind Kind, string Code, string Detail)
{
    /// <summary>Per-field messages for validation failures (field name → messages).</summary>
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    /// <summary>For password failures: every violated rule, with its code and message.</summary>
    public IReadOnlyList<Credentials.PasswordViolation>? Violations { get; init; }

    /// <summary>Further members of the problem that this failure becomes (the rejected rows of an import, say).</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static Failure Invalid(string code, string detail, IReadOnlyDictionary<string, string[]>? errors = null)
        => new(FailureKind.Invalid, code, detail) { Errors = errors };

    public static Failure NotFound(string detail) => new(FailureKind.NotFound, "not_found", detail);

    public static Failure Conflict(string code, string detail) => new(FailureKind.Conflict, code, detail);

    public static Failure Forbidden(string code, string detail) => new(FailureKind.Forbidden, code, detail);
}

/// <summary>The result of a use case: a value, or a <see cref="Failure"/>.</summary>
public readonly struct Outcome<T>
{
    private Outcome(T? value, Failure? failure)
    {
        Value = value;
        Failure = failure;
    }

    public T? Value { get; }

    public Failure? Failure { get; }

    public bool Succeeded => Failure is null;

    public static Outcome<T> Ok(T value) => new(value, null);

    public static Outcome<T> Fail(Failure failure) => new(default, failure);

    public static implicit operator Outcome<T>(Failure failure) => Fail(failure);
}
