namespace Tessera.Core.Governance;

/// <summary>The rules for the validity given to a role grant or a group membership when someone sets it.</summary>
public static class AssignmentValidity
{
    /// <summary>
    /// Why a validity sent as input is refused at <paramref name="now"/>, or null: a malformed range
    /// (<see cref="Validity.Problem"/>), or an end that has already passed; nobody grants access that has lapsed.
    /// </summary>
    public static string? InputProblem(Validity validity, DateTime now)
        => validity.Problem(now)
            ?? (validity.HasLapsedAt(now) ? "validUntil lies in the past: an assignment that has already ended would grant nothing." : null);

    /// <summary>
    /// Whether changing an assignment's range from <paramref name="before"/> to <paramref name="after"/> gives access
    /// the old range did not: the old one had lapsed, or the new one begins earlier or ends later (an open end is the
    /// earliest start and the latest end). Shortening a range only takes access away.
    /// </summary>
    public static bool Widens(Validity before, Validity after, DateTime now)
    {
        if (before.HasLapsedAt(now))
        {
            return !after.HasLapsedAt(now);
        }

        var startsEarlier = before.From is { } oldFrom && (after.From is not { } newFrom || newFrom < oldFrom);
        var endsLater = before.Until is { } oldUntil && (after.Until is not { } newUntil || newUntil > oldUntil);
        return startsEarlier || endsLater;
    }
}
