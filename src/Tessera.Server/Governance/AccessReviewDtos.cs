using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Governance;

/// <summary>What a campaign covers: every holder of these roles (directly or through a group) and every member of these groups.</summary>
public sealed record AccessReviewScope(List<string>? Roles, List<string>? Groups);

public sealed record CreateAccessReviewRequest(
    [Required] string? Name,
    [Required] AccessReviewScope? Scope,
    [Required] List<Guid>? Reviewers,
    [Required] DateTimeOffset? DueAt);

/// <summary>How far a campaign has come: items decided so far, and those still pending.</summary>
public sealed record AccessReviewProgress(int Total, int Decided, int Keep, int Revoke, int Pending);

public sealed record AccessReviewReviewerResponse(Guid Id, string Username);

/// <summary>What closing a campaign did: how many revocations applied, went for approval, found nothing, or failed.</summary>
public sealed record AccessReviewClosing(int Applied, int SentForApproval, int AlreadyRemoved, int Failed, int Kept, int NotReviewed);

public sealed record AccessReviewResponse(
    Guid Id,
    string Name,
    AccessReviewScope Scope,
    IReadOnlyList<AccessReviewReviewerResponse> Reviewers,
    DateTime DueAt,
    string Status,
    bool Overdue,
    AccessReviewProgress Progress,
    DateTime CreatedAt,
    string CreatedBy,
    DateTime? ClosedAt,
    AccessReviewClosing? Closing);

public sealed record AccessReviewList(IReadOnlyList<AccessReviewResponse> Items);

/// <summary>One assignment under review: a direct role (group null), or a membership (role: the reviewed role it brings, if any).</summary>
public sealed record AccessReviewItemResponse(
    Guid Id,
    Guid UserId,
    string Username,
    Guid? RoleId,
    string? Role,
    Guid? GroupId,
    string? Group,
    DateTime? ValidFrom,
    DateTime? ValidUntil,
    string? Decision,
    string? DecidedBy,
    DateTime? DecidedAt,
    string? Comment,
    string? Outcome);

public sealed record AccessReviewItemPage(IReadOnlyList<AccessReviewItemResponse> Items, string? NextCursor);

public sealed record AccessReviewItemQuery(
    [property: Description("Only items with this decision: pending (undecided), keep or revoke.")] string? Decision = null,
    [property: Description("At most this many items (1 to 200, default 50).")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);

public sealed record AccessReviewDecision([Required] Guid? Id, [Required] string? Decision, string? Comment);

public sealed record AccessReviewDecisionsRequest([Required] List<AccessReviewDecision>? Items);

public sealed record AccessReviewDecisionsResponse(int Decided, AccessReviewProgress Progress);
