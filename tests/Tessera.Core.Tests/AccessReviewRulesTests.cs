using Tessera.Core.Governance;

namespace Tessera.Core.Tests;

public class AccessReviewRulesTests
{
    private static readonly DateTime Now = new(2027, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData("Q1 tellers", true)]
    [InlineData("  padded  ", true)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData(null, false)]
    [InlineData("two\nlines", false)]
    public void A_name_is_one_line_of_1_to_200_characters(string? name, bool valid)
        => Assert.Equal(valid, AccessReviewRules.NameProblem(name) is null);

    [Fact]
    public void A_name_of_200_characters_passes_and_201_do_not()
    {
        Assert.Null(AccessReviewRules.NameProblem(new string('n', 200)));
        Assert.NotNull(AccessReviewRules.NameProblem(new string('n', 201)));
    }

    [Theory]
    // hours from now (null: missing), valid
    [InlineData(null, false)]
    [InlineData(-1.0, false)]
    [InlineData(0.0, false)]
    [InlineData(0.01, true)]
    [InlineData(24.0 * 366, true)]
    [InlineData(24.0 * 366 + 0.01, false)]
    public void The_due_date_is_in_the_future_and_within_a_year(double? hours, bool valid)
        => Assert.Equal(valid, AccessReviewRules.DueProblem(hours is { } h ? Now.AddHours(h) : null, Now) is null);

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(50, true)]
    [InlineData(51, false)]
    public void A_campaign_has_1_to_50_reviewers(int count, bool valid)
        => Assert.Equal(valid, AccessReviewRules.ReviewerCountProblem(count) is null);

    [Theory]
    [InlineData("keep", "keep")]
    [InlineData("REVOKE", "revoke")]
    [InlineData(" Keep ", "keep")]
    [InlineData("maybe", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void A_decision_is_keep_or_revoke(string? wire, string? stored)
    {
        var parsed = AccessReviewRules.TryParseDecision(wire, out var decision);
        Assert.Equal(stored is not null, parsed);
        Assert.Equal(stored ?? "", decision);
    }

    [Theory]
    // status, due relative to now in minutes, overdue
    [InlineData("open", 1, false)]
    [InlineData("open", 0, false)]
    [InlineData("open", -1, true)]
    [InlineData("closed", -1, false)]
    public void Only_an_open_campaign_past_its_due_date_is_overdue(string status, int dueInMinutes, bool overdue)
        => Assert.Equal(overdue, AccessReviewRules.IsOverdue(status, Now.AddMinutes(dueInMinutes), Now));

    [Fact]
    public void A_failed_revocation_names_its_code()
        => Assert.Equal("failed:last_admin", AccessReviewRules.Failed("last_admin"));
}
