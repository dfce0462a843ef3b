using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// The checker's side of four-eyes approval: reading change requests, approving (the stored change replayed through
/// its own use case, judged as the checker's change), rejecting, the maker withdrawing, and expiry.
/// </summary>
/// <remarks>
/// Every decision runs in a serialized directory transaction and first re-reads the request: of two decisions made at
/// once, the second finds it decided (409 <c>request_not_pending</c>). An approval marks the request in the change's own
/// transaction (<see cref="DirectoryPipeline"/>), so the change applies exactly once.
/// </remarks>
public sealed class ChangeRequestService(
    TesseraDbContext db,
    DirectoryPipeline pipeline,
    ApprovalContext approval,
    IEnumerable<IChangeReplay> replays,
    CallerDirectory callers,
    AuditLog audit,
    TimeProvider clock)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
    public const int MaxCommentLength = 1000;

    /// <summary>The checker lacks the privilege of the endpoint that makes the change; the request stays pending.</summary>
    public const string CheckerLacksPrivilege = "checker_lacks_privilege";

    public static Failure NotPending(string status)
        => Failure.Conflict("request_not_pending", $"The change request is {status}, no longer pending: it cannot be decided again.");

    /// <summary>
    /// Pending requests first when no status is asked for, newest first within each; keyset-paged. A caller holding
    /// APPROVE_CHANGES or MANAGE_GOVERNANCE reads every request, any other only the ones they made.
    /// </summary>
    public async Task<Outcome<ChangeRequestPage>> ListAsync(string? status, int? limit, string? cursor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (status is not null && !ChangeRequestStatus.Exists(status))
        {
            errors["status"] = [$"status must be one of {string.Join(", ", ChangeRequestStatus.All)}."];
        }

        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        (DateTime At, Guid Id)? after = null;
        if (cursor is not null)
        {
            var parts = cursor.Split('_');
            if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTime.MaxValue.Ticks && Guid.TryParse(parts[1], out var id))
            {
                after = (new DateTime(ticks, DateTimeKind.Utc), id);
            }
            else
            {
                errors["cursor"] = [Paging.CursorMessage];
            }
        }

        if (errors.Count > 0)
        {
            return Paging.Refuse(errors);
        }

        await ExpireDueAsync(ct);
        var query = db.ChangeRequests.AsNoTracking();
        if (!await ReadsAllAsync(ct))
        {
            var me = pipeline.ActorId() ?? Guid.Empty;
            query = query.Where(r => r.MakerId == me);
        }

        if (status is not null)
        {
            query = query.Where(r => r.Status == status);
        }

        if (after is { } from)
        {
            query = query.Where(r => r.CreatedAt < from.At || (r.CreatedAt == from.At && r.Id.CompareTo(from.Id) < 0));
        }

        var take = limit ?? DefaultLimit;
        var rows = await query.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(take + 1).ToListAsync(ct);
        var next = rows.Count > take ? $"{rows[take - 1].CreatedAt.Ticks.ToString(CultureInfo.InvariantCulture)}_{rows[take - 1].Id}" : null;
        return Outcome<ChangeRequestPage>.Ok(new ChangeRequestPage([.. rows.Take(take).Select(ChangeRequestResponse.Of)], next));
    }

    public async Task<Outcome<ChangeRequestResponse>> GetAsync(Guid id, CancellationToken ct)
    {
        await ExpireDueAsync(ct);
        var row = await db.ChangeRequests.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, ct);
        if (row is null || (row.MakerId != pipeline.ActorId() && !await ReadsAllAsync(ct)))
        {
            // Another maker's request is not found rather than forbidden: its existence is not the caller's to learn.
            return NotFound(id);
        }

        return Outcome<ChangeRequestResponse>.Ok(ChangeRequestResponse.Of(row));
    }

    /// <summary>The number of pending requests (for the Back Office navigation).</summary>
    public async Task<int> PendingCountAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        return await db.ChangeRequests.CountAsync(r => r.Status == ChangeRequestStatus.Pending && r.ExpiresAt > now, ct);
    }

    /// <summary>
    /// Applies the request's change as the caller's own (the checker: a different user who holds APPROVE_CHANGES and
    /// passes the delegation rules for it). A refusal by the delegation rules leaves the request pending for another
    /// checker and answers the refusal; any other failure ends the request <c>failed</c> with its code, and the answer
    /// is the request (200), nothing of the change applied.
    /// </summary>
    public async Task<Outcome<ChangeRequestResponse>> ApproveAsync(Guid id, ChangeRequestDecision? decision, CancellationToken ct)
    {
        if (CommentProblem(decision) is { } invalid)
        {
            return invalid;
        }

        var (checkerId, checkerName) = await CheckerAsync(ct);
        var decidable = await DecidableAsync(id, checkerId, selfCode: "self_approval", ct);
        if (!decidable.Succeeded)
        {
            return decidable.Failure!;
        }

        var request = decidable.Value!;
        DirectoryChange? change;
        try
        {
            change = JsonSerializer.Deserialize<DirectoryChange>(request.Change, JsonSerializerOptions.Web);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            change = null;
        }

        var replay = change is null ? null : replays.FirstOrDefault(r => r.Replays(change));
        if (change is null || replay is null)
        {
            return await FailAsync(id, checkerId, checkerName, decision?.Comment,
                Failure.Conflict("change_unreadable", "The stored change cannot be applied by this version of Tessera."), ct);
        }

        // Approving a change is making it: the checker needs the privilege of the endpoint that makes it, too.
        var privilege = replay.PrivilegeFor(change);
        if (await callers.GetAsync(checkerId, ct) is not { } checker || !checker.Privileges.Contains(privilege))
        {
            return new Failure(FailureKind.Forbidden, CheckerLacksPrivilege,
                $"Approving this change means making it: it needs {privilege}, which you do not hold.")
            {
                Extensions = new Dictionary<string, object?> { ["privileges"] = new[] { privilege } },
            };
        }

        Failure? failure;
        approval.Begin(request, checkerId, checkerName, Comment(decision));
        try
        {
            failure = await replay.ReplayAsync(change, ct);
        }
        finally
        {
            approval.End();
        }

        if (failure is null)
        {
            if (!approval.Completed)
            {
                // The use case found nothing to change and did not reach the commit: the request is approved all the same.
                var marked = await DecideAsync(id, ChangeRequestStatus.Approved, checkerId, checkerName, Comment(decision), null, "change_request.approved", ct);
                if (!marked.Succeeded)
                {
                    return marked;
                }
            }

            return await ReadAsync(id, ct);
        }

        if (approval.RefusedByDelegation || failure.Code is "request_not_pending" or CheckerLacksPrivilege)
        {
            return failure;
        }

        return await FailAsync(id, checkerId, checkerName, decision?.Comment, failure, ct);
    }

    public async Task<Outcome<ChangeRequestResponse>> RejectAsync(Guid id, ChangeRequestDecision? decision, CancellationToken ct)
    {
        if (CommentProblem(decision) is { } invalid)
        {
            return invalid;
        }

        var (checkerId, checkerName) = await CheckerAsync(ct);
        var decidable = await DecidableAsync(id, checkerId, selfCode: "self_approval", ct);
        return decidable.Succeeded
            ? await DecideAsync(id, ChangeRequestStatus.Rejected, checkerId, checkerName, Comment(decision), null, "change_request.rejected", ct)
            : decidable.Failure!;
    }

    /// <summary>The maker takes back a pending request.</summary>
    public async Task<Outcome<ChangeRequestResponse>> WithdrawAsync(Guid id, ChangeRequestDecision? decision, CancellationToken ct)
    {
        if (CommentProblem(decision) is { } invalid)
        {
            return invalid;
        }

        var (actorId, actorName) = await CheckerAsync(ct);
        var decidable = await DecidableAsync(id, actorId, selfCode: null, ct);
        if (!decidable.Succeeded)
        {
            return decidable.Failure!;
        }

        return decidable.Value!.MakerId != actorId
            ? Failure.Forbidden("not_maker", "Only the maker of a change request may withdraw it.")
            : await DecideAsync(id, ChangeRequestStatus.Withdrawn, null, null, Comment(decision), null, "change_request.withdrawn", ct);
    }

    /// <summary>Ends every pending request past its expiry as <c>expired</c>, each audited once; returns how many.</summary>
    public async Task<int> ExpireDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (!await db.ChangeRequests.AnyAsync(r => r.Status == ChangeRequestStatus.Pending && r.ExpiresAt <= now, ct))
        {
            return 0;
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var due = await db.ChangeRequests.Where(r => r.Status == ChangeRequestStatus.Pending && r.ExpiresAt <= now).ToListAsync(ct);
        foreach (var request in due)
        {
            request.Status = ChangeRequestStatus.Expired;
            request.DecidedAt = now;
            audit.Record(db, "change_request.expired", "change_request", request.Id.ToString(), request.Operation,
                Details(request, outcome: "expired"), actor: Actor.System);
        }

        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        return due.Count;
    }

    private async Task<bool> ReadsAllAsync(CancellationToken ct)
        => pipeline.ActorId() is { } id && await callers.GetAsync(id, ct) is { } caller
            && (caller.Privileges.Contains(Privileges.ApproveChanges) || caller.Privileges.Contains(Privileges.ManageGovernance));

    private async Task<(Guid Id, string Username)> CheckerAsync(CancellationToken ct)
    {
        var id = pipeline.ActorId() ?? Guid.Empty;
        return (id, await db.Users.AsNoTracking().Where(u => u.Id == id).Select(u => u.Username).SingleOrDefaultAsync(ct) ?? "");
    }

    /// <summary>The request, if the caller may decide it now: it exists, is not theirs (for a checker), is pending and not expired.</summary>
    private async Task<Outcome<ChangeRequest>> DecidableAsync(Guid id, Guid actorId, string? selfCode, CancellationToken ct)
    {
        var request = await db.ChangeRequests.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, ct);
        if (request is null || (selfCode is null && request.MakerId != actorId && !await ReadsAllAsync(ct)))
        {
            return NotFound(id).Failure!;
        }

        if (selfCode is not null && request.MakerId == actorId)
        {
            return Failure.Forbidden(selfCode, "Nobody approves or rejects their own change request; the maker may withdraw it.");
        }

        if (request.Status != ChangeRequestStatus.Pending)
        {
            return NotPending(request.Status);
        }

        if (request.ExpiresAt <= clock.GetUtcNow().UtcDateTime)
        {
            await ExpireDueAsync(ct);
            return Failure.Conflict("request_expired", $"The change request expired at {request.ExpiresAt:yyyy-MM-dd HH:mm} UTC; the maker can make the change again.");
        }

        return Outcome<ChangeRequest>.Ok(request);
    }

    /// <summary>Ends a pending request in a final state, in a serialized transaction that re-reads it.</summary>
    private async Task<Outcome<ChangeRequestResponse>> DecideAsync(Guid id, string status, Guid? checkerId, string? checkerName, string? comment, Failure? failure, string action, CancellationToken ct)
    {
        await using (var tx = await db.BeginDirectoryChangeAsync(ct))
        {
            var request = await db.ChangeRequests.SingleOrDefaultAsync(r => r.Id == id, ct);
            if (request is null)
            {
                return NotFound(id);
            }

            if (request.Status != ChangeRequestStatus.Pending)
            {
                db.ChangeTracker.Clear();
                return NotPending(request.Status);
            }

            request.Status = status;
            request.CheckerId = checkerId;
            request.CheckerUsername = checkerName;
            request.DecidedAt = clock.GetUtcNow().UtcDateTime;
            request.Comment = comment;
            request.FailureCode = failure?.Code;
            request.FailureDetail = failure?.Detail is { Length: > 1000 } long_ ? long_[..1000] : failure?.Detail;
            audit.Record(db, action, "change_request", request.Id.ToString(), request.Operation, Details(request, outcome: status),
                outcome: status == ChangeRequestStatus.Failed ? "failure" : "success");
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        db.ChangeTracker.Clear();
        return await ReadAsync(id, ct);
    }

    private Task<Outcome<ChangeRequestResponse>> FailAsync(Guid id, Guid checkerId, string checkerName, string? comment, Failure failure, CancellationToken ct)
        => DecideAsync(id, ChangeRequestStatus.Failed, checkerId, checkerName, comment?.Trim(), failure, "change_request.failed", ct);

    private async Task<Outcome<ChangeRequestResponse>> ReadAsync(Guid id, CancellationToken ct)
        => await db.ChangeRequests.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, ct) is { } row ? Outcome<ChangeRequestResponse>.Ok(ChangeRequestResponse.Of(row)) : NotFound(id);

    private static object Details(ChangeRequest request, string outcome) => new
    {
        request.Operation,
        maker = new { id = request.MakerId, username = request.MakerUsername },
        checker = request.CheckerId is { } checker ? new { id = checker, username = request.CheckerUsername } : null,
        comment = request.Comment,
        outcome,
        failure = request.FailureCode is { } code ? new { code, detail = request.FailureDetail } : null,
        change = JsonDocument.Parse(request.Preview).RootElement,
    };

    private static string? Comment(ChangeRequestDecision? decision) => decision?.Comment?.Trim() is { Length: > 0 } comment ? comment : null;

    private static Failure? CommentProblem(ChangeRequestDecision? decision)
        => decision?.Comment is { Length: > MaxCommentLength }
            ? Failure.Invalid("validation_failed", $"The comment may be at most {MaxCommentLength} characters long.",
                new Dictionary<string, string[]> { ["comment"] = [$"at most {MaxCommentLength} characters."] })
            : null;

    private static Outcome<ChangeRequestResponse> NotFound(Guid id) => Failure.NotFound($"No change request has the id {id}.");
}
