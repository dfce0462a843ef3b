using Tessera.Core.Common;

namespace Tessera.Server.Http;

/// <summary>
/// Turns use-case outcomes into HTTP results: the value, or the problem of its failure. A change sent for approval
/// (<see cref="FailureKind.Deferred"/>) becomes 202 with the change request, through <see cref="Problems.From"/>.
/// </summary>
public static class OutcomeResults
{
    public static IResult ToOk<T>(this Outcome<T> outcome) => outcome.Succeeded ? Results.Ok(outcome.Value) : Problems.From(outcome.Failure!);

    public static IResult ToNoContent(this Failure? failure) => failure is null ? Results.NoContent() : Problems.From(failure);
}
