namespace Tessera.Core.Governance;

/// <summary>
/// The rules of an access-review campaign: what a campaign may be created with, what a decision is, when a campaign
/// is overdue, and how closing it reports each item. Reviewers recertify each assignment in scope (<c>keep</c> or
/// <c>revoke</c>) until the campaign closes; closing applies the revocations.
/// </summary>
public static class AccessReviewRules
{
    public const int MaxNameLength = 200;
    public const int MaxReviewers = 50;
    public const int MaxCommentLength = 1000;

    /// <summary>How many decisions one request may carry.</summary>
    public const int MaxDecisionsPerRequest = 500;

    /// <summary>A campaign is due within a year of its creation: recertification is periodic, not open-ended.</summary>
    public static readonly TimeSpan MaxDueAhead = TimeSpan.FromDays(366);

    /// <summary>What closing did with an item: the revocation removed the assignment.</summary>
    public const string Applied = "applied";

    /// <summary>The assignment was gone by the time the campaign closed (removed by hand, the user deleted, ...).</summary>
    public const string AlreadyRemoved = "already_removed";

    /// <summary>The approval policy stored the revocation as a change request for a second person.</summary>
    public const string SentForApproval = "sent_for_approval";

    /// <summary>The item was marked keep: nothing changed.</summary>
    public const string Kept = "kept";

    /// <summary>Nobody decided on the item by the close: it is kept, and the report says it was not reviewed.</summary>
    public const string NotReviewed = "not_reviewed";

    /// <summary>The revocation was refused (the delegation rules, an invariant such as <c>last_admin</c>): <c>failed:&lt;code&gt;</c>.</summary>
    public static string Failed(string code) => "failed:" + code;

    /// <summary>Why a campaign name is refused, or null: 1 to 200 characters after trimming, one line.</summary>
    public static string? NameProblem(string? name)
    {
        var trimmed = name?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            return "name is required.";
        }

        if (trimmed.Length > MaxNameLength)
        {
            return $"name can be at most {MaxNameLength} characters.";
        }

        return trimmed.Any(char.IsControl) ? "name cannot hold control characters such as line breaks." : null;
    }

    /// <summary>Why a due date is refused at <paramref name="now"/>, or null: later than now and at most <see cref="MaxDueAhead"/> ahead.</summary>
    public static string? DueProblem(DateTime? dueAt, DateTime now)
    {
        if (dueAt is not { } due)
        {
            return "dueAt is required.";
        }

        if (due <= now)
        {
            return "dueAt must be in the future.";
        }

        return due > now + MaxDueAhead ? "dueAt must be within a year." : null;
    }

    /// <summary>Why a reviewer count is refused, or null: 1 to <see cref="MaxReviewers"/> distinct users.</summary>
    public static string? ReviewerCountProblem(int distinct)
        => distinct switch
        {
            0 => "At least one reviewer is required.",
            > MaxReviewers => $"A campaign has at most {MaxReviewers} reviewers.",
            _ => null,
        };

    /// <summary>The decision as stored (<c>keep</c> or <c>revoke</c>), from its wire form (case ignored); false for anything else.</summary>
    public static bool TryParseDecision(string? wire, out string decision)
    {
        decision = wire?.Trim().ToLowerInvariant() switch
        {
            AccessReviewStatus.Keep => AccessReviewStatus.Keep,
            AccessReviewStatus.Revoke => AccessReviewStatus.Revoke,
            _ => "",
        };
        return decision.Length > 0;
    }

    /// <summary>Open past its due date. A closed campaign is never overdue; the due date itself is still on time.</summary>
    public static bool IsOverdue(string status, DateTime dueAt, DateTime now) => status == AccessReviewStatus.Open && now > dueAt;
}
