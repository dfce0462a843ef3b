using Tessera.Core.Governance;

namespace Tessera.Core.Tests.Governance;

/// <summary>
/// When an assignment counts: from inclusive, until exclusive, either end open. Times are given in hours from a
/// fixed now (null: an open end).
/// </summary>
public class ValidityTests
{
    private static readonly DateTime Now = new(2027, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    private static DateTime? At(double? hours) => hours is { } h ? Now.AddHours(h) : null;

    private static Validity Range(double? from, double? until) => new(At(from), At(until));

    [Theory]
    // from, until, valid now, state now
    [InlineData(null, null, true, "active")]
    [InlineData(0.0, null, true, "active")]          // exactly at from: begun
    [InlineData(0.0001, null, false, "pending")]     // a moment before from
    [InlineData(-1.0, null, true, "active")]
    [InlineData(null, 0.0, false, "expired")]        // exactly at until: ended
    [InlineData(null, 0.0001, true, "active")]       // a moment before until
    [InlineData(null, -1.0, false, "expired")]
    [InlineData(-2.0, 2.0, true, "active")]
    [InlineData(1.0, 2.0, false, "pending")]
    [InlineData(-2.0, -1.0, false, "expired")]
    [InlineData(0.0, 0.0001, true, "active")]
    public void An_assignment_counts_from_its_start_inclusive_until_its_end_exclusive(double? from, double? until, bool valid, string state)
    {
        var validity = Range(from, until);

        Assert.Equal(valid, validity.IsValidAt(Now));
        Assert.Equal(state, validity.StateAt(Now));
        Assert.Equal(state == "expired", validity.HasLapsedAt(Now));
        Assert.Equal(state == "pending", validity.IsPendingAt(Now));
    }

    [Theory]
    // from, until, window in hours, ends within the window
    [InlineData(null, null, 24.0, false)]
    [InlineData(null, 24.0, 24.0, true)]             // the window's last instant counts
    [InlineData(null, 24.0001, 24.0, false)]
    [InlineData(null, 0.0, 24.0, false)]             // ended already
    [InlineData(-1.0, 1.0, 24.0, true)]
    [InlineData(1.0, 2.0, 24.0, true)]               // pending, but its end is near
    public void Ends_within_a_window_only_when_it_has_not_ended_yet(double? from, double? until, double window, bool within)
        => Assert.Equal(within, Range(from, until).EndsWithin(Now, TimeSpan.FromHours(window)));

    [Theory]
    // from, until, the next change after now
    [InlineData(null, null, null)]
    [InlineData(1.0, null, 1.0)]
    [InlineData(1.0, 2.0, 1.0)]                      // pending: its start comes first
    [InlineData(-1.0, 2.0, 2.0)]
    [InlineData(0.0, 2.0, 2.0)]                      // begun exactly now: the end is next
    [InlineData(-2.0, -1.0, null)]                   // ended: never changes again
    [InlineData(null, 0.0, null)]                    // ends exactly now: already changed
    [InlineData(-1.0, null, null)]
    public void The_next_change_is_the_start_if_pending_else_the_end_if_not_ended(double? from, double? until, double? next)
        => Assert.Equal(At(next), Range(from, until).NextChangeAfter(Now));

    [Theory]
    // from, until in days; the input problem, by a word it carries (null: well formed)
    [InlineData(null, null, null)]
    [InlineData(null, 30.0, null)]
    [InlineData(10.0, 20.0, null)]
    [InlineData(10.0, 10.0, "later")]                // an empty range
    [InlineData(20.0, 10.0, "later")]
    [InlineData(null, 3653.0, null)]                 // exactly ten years ahead is allowed
    [InlineData(null, 3653.001, "ten years")]
    [InlineData(3653.001, null, "ten years")]
    public void A_range_must_end_after_it_begins_and_reach_at_most_ten_years_ahead(double? fromDays, double? untilDays, string? problem)
    {
        var validity = new Validity(fromDays is { } f ? Now.AddDays(f) : null, untilDays is { } u ? Now.AddDays(u) : null);
        var found = validity.Problem(Now);

        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(problem, found, StringComparison.Ordinal);
        }
    }

    [Theory]
    // from, until in hours; refused as input
    [InlineData(null, 1.0, false)]
    [InlineData(null, 0.0, true)]                    // ends now: it would grant nothing
    [InlineData(-5.0, -1.0, true)]
    [InlineData(-5.0, 1.0, false)]                   // a start in the past is fine
    [InlineData(2.0, 1.0, true)]
    public void Input_that_ends_in_the_past_is_refused_too(double? from, double? until, bool refused)
        => Assert.Equal(refused, AssignmentValidity.InputProblem(Range(from, until), Now) is not null);

    [Theory]
    // before (from, until), after (from, until), the change gives access the old range did not
    [InlineData(null, 10.0, null, 20.0, true)]        // ends later
    [InlineData(null, 10.0, null, null, true)]        // now for good
    [InlineData(null, 20.0, null, 10.0, false)]       // ends sooner: only takes away
    [InlineData(null, null, null, 10.0, false)]       // gets an end
    [InlineData(5.0, 10.0, 1.0, 10.0, true)]          // begins earlier
    [InlineData(5.0, 10.0, null, 10.0, true)]
    [InlineData(1.0, 10.0, 5.0, 10.0, false)]         // begins later
    [InlineData(-5.0, -1.0, null, 1.0, true)]         // renewed after it lapsed
    [InlineData(-5.0, -1.0, 1.0, 2.0, true)]
    [InlineData(null, null, null, null, false)]
    public void A_change_of_range_widens_access_when_it_renews_begins_earlier_or_ends_later(double? oldFrom, double? oldUntil, double? newFrom, double? newUntil, bool widens)
        => Assert.Equal(widens, AssignmentValidity.Widens(Range(oldFrom, oldUntil), Range(newFrom, newUntil), Now));

    [Theory]
    [InlineData(null, null, null)]
    [InlineData(1.0, null, 1.0)]
    [InlineData(null, 2.0, 2.0)]
    [InlineData(1.0, 2.0, 1.0)]
    [InlineData(3.0, 2.0, 2.0)]
    public void The_earliest_of_two_boundaries_ignores_an_open_one(double? a, double? b, double? earliest)
        => Assert.Equal(At(earliest), Validity.Earliest(At(a), At(b)));
}
