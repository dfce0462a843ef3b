namespace Tessera.Core.Governance;

/// <summary>
/// When an assignment (a user's role, a group membership) counts: from <see cref="From"/> on (inclusive) and
/// before <see cref="Until"/> (exclusive). Either end may be open. An assignment outside its range stays
/// stored and visible, but grants nothing: every decision asks <see cref="IsValidAt"/> with the clock's now.
/// </summary>
public readonly record struct Validity(DateTime? From, DateTime? Until)
{
    public static readonly Validity Always = new(null, null);

    /// <summary>The longest validity an assignment may be given ahead: ten years.</summary>
    public static readonly TimeSpan MaxSpanAhead = TimeSpan.FromDays(3653);

    public bool IsBounded => From is not null || Until is not null;

    public bool IsValidAt(DateTime now) => (From is null || From <= now) && (Until is null || now < Until);

    /// <summary>Past its end: it will never count again.</summary>
    public bool HasLapsedAt(DateTime now) => Until is { } until && until <= now;

    /// <summary>Not yet begun.</summary>
    public bool IsPendingAt(DateTime now) => From is { } from && now < from;

    /// <summary>Ends within <paramref name="window"/> of now, and has not ended yet.</summary>
    public bool EndsWithin(DateTime now, TimeSpan window) => Until is { } until && now < until && until <= now + window;

    /// <summary>"active", "pending" (not yet begun) or "expired" (ended), as the answers show it.</summary>
    public string StateAt(DateTime now) => HasLapsedAt(now) ? "expired" : IsPendingAt(now) ? "pending" : "active";

    /// <summary>The next instant after <paramref name="now"/> at which <see cref="IsValidAt"/> changes; null when never.</summary>
    public DateTime? NextChangeAfter(DateTime now)
        => From is { } from && now < from ? from : Until is { } until && now < until ? until : null;

    /// <summary>Why this range is refused as input, or null when it is well formed.</summary>
    public string? Problem(DateTime now)
    {
        if (From is { } from && Until is { } until && until <= from)
        {
            return "validUntil must be later than validFrom.";
        }

        if (Until is { } end && end > now + MaxSpanAhead || From is { } start && start > now + MaxSpanAhead)
        {
            return "A validity may reach at most ten years ahead.";
        }

        return null;
    }

    /// <summary>The earliest of two optional instants (the sooner of two boundaries).</summary>
    public static DateTime? Earliest(DateTime? a, DateTime? b) => a is null ? b : b is null ? a : a < b ? a : b;
}
