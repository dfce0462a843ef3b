using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Governance;

/// <summary>
/// The use cases of access-review campaigns: create one (its items are a snapshot of the assignments in scope),
/// read it and its items, record reviewers' decisions, close it (each revocation a <see cref="RevokeAccess"/> through
/// the <see cref="DirectoryPipeline"/>), and report it. The REST endpoints and the Back Office pages both call these.
/// </summary>
/// <remarks>
/// Who may see what: a holder of MANAGE_GOVERNANCE sees every campaign; anyone else sees the campaigns they review.
/// Only a named reviewer decides, never on their own assignments.
/// </remarks>
public sealed class AccessReviewService(TesseraDbContext db, DirectoryPipeline pipeline, CallerDirectory callers, AuditLog audit, TimeProvider clock)
{
    public const int DefaultItemLimit = 50;
    public const int MaxItemLimit = 200;

    /// <summary>The caller as the campaign rules see them: who, and whether they govern every campaign.</summary>
    public sealed record Viewer(Guid Id, bool Governs);

    public async Task<Viewer> ViewerAsync(CancellationToken ct)
    {
        var id = pipeline.ActorId() ?? Guid.Empty;
        var caller = id == Guid.Empty ? null : await callers.GetAsync(id, ct);
        return new Viewer(id, caller is not null && caller.MayAct(clock.GetUtcNow().UtcDateTime) && caller.Privileges.Contains(Privileges.ManageGovernance));
    }

    /// <summary>Whether the caller is named reviewer of an open campaign (the Back Office then offers "Reviews").</summary>
    public async Task<bool> ReviewsOpenCampaignAsync(CancellationToken ct)
    {
        var id = pipeline.ActorId() ?? Guid.Empty;
        return await db.AccessReviewReviewers.AnyAsync(r => r.UserId == id
            && db.AccessReviews.Any(x => x.Id == r.ReviewId && x.Status == AccessReviewStatus.Open), ct);
    }

    public async Task<Outcome<AccessReviewResponse>> CreateAsync(CreateAccessReviewRequest request, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var errors = new Dictionary<string, string[]>();
        if (AccessReviewRules.NameProblem(request.Name) is { } nameProblem)
        {
            errors["name"] = [nameProblem];
        }

        var roleNames = Names(request.Scope?.Roles);
        var groupNames = Names(request.Scope?.Groups);
        if (roleNames.Count + groupNames.Count == 0)
        {
            errors["scope"] = ["scope names at least one role or group."];
        }

        var reviewerIds = (request.Reviewers ?? []).Distinct().ToList();
        if (AccessReviewRules.ReviewerCountProblem(reviewerIds.Count) is { } reviewerProblem)
        {
            errors["reviewers"] = [reviewerProblem];
        }

        var dueAt = request.DueAt?.UtcDateTime;
        if (AccessReviewRules.DueProblem(dueAt, now) is { } dueProblem)
        {
            errors["dueAt"] = [dueProblem];
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        if (!(await ViewerAsync(ct)).Governs)
        {
            return NotGoverning();
        }

        var actor = audit.CurrentActor();
        AccessReview review;
        await using (var tx = await db.BeginDirectoryChangeAsync(ct))
        {
            // In the directory's transaction: the snapshot is of one moment, with no grant or removal half-seen.
            var roles = await DirectoryGuard.ResolveRolesAsync(db, roleNames, ct);
            if (!roles.Succeeded)
            {
                return roles.Failure!;
            }

            var groups = await DirectoryGuard.ResolveGroupsAsync(db, groupNames, ct);
            if (!groups.Succeeded)
            {
                return groups.Failure!;
            }

            var reviewers = await db.Users.AsNoTracking().Where(u => reviewerIds.Contains(u.Id))
                .Select(u => new { u.Id, u.Username, u.Type, u.Status }).ToListAsync(ct);
            if (reviewerIds.Where(id => reviewers.All(r => r.Id != id)).Select(id => (Guid?)id).FirstOrDefault() is { } unknown)
            {
                return Failure.Conflict("unknown_reviewer", $"No user has the id {unknown}.");
            }

            if (reviewers.FirstOrDefault(r => r.Type != UserType.BackOffice || r.Status is UserStatus.Disabled or UserStatus.Invited || Usernames.IsReserved(r.Username)) is { } ineligible)
            {
                return Failure.Conflict("reviewer_not_eligible", $"{ineligible.Username} cannot review: a reviewer is an active BackOffice user.");
            }

            review = new AccessReview
            {
                Name = request.Name!.Trim(),
                Scope = JsonSerializer.Serialize(new AccessReviewScope([.. roles.Value!.Select(r => r.Name).Order(StringComparer.Ordinal)], [.. groups.Value!.Select(g => g.Name).Order(StringComparer.Ordinal)]), JsonSerializerOptions.Web),
                DueAt = dueAt!.Value,
                CreatedBy = actor.Id ?? Guid.Empty,
                CreatedByUsername = actor.Name,
                CreatedAt = now,
            };
            review.Reviewers.AddRange(reviewerIds.Select(id => new AccessReviewReviewer { UserId = id }));
            review.Items.AddRange(await SnapshotAsync(review.Id, roles.Value!, groups.Value!, ct));
            db.AccessReviews.Add(review);
            audit.Record(db, "access_review.created", "access_review", review.Id.ToString(), review.Name, new
            {
                roles = roles.Value!.Select(r => r.Name).Order(StringComparer.Ordinal),
                groups = groups.Value!.Select(g => g.Name).Order(StringComparer.Ordinal),
                reviewers = reviewers.Select(r => r.Username).Order(StringComparer.Ordinal),
                dueAt = review.DueAt,
                items = review.Items.Count,
                directRoles = review.Items.Count(i => i.GroupId is null),
                memberships = review.Items.Count(i => i.GroupId is not null),
                users = review.Items.Select(i => i.UserId).Distinct().Count(),
            });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        db.ChangeTracker.Clear();
        return Outcome<AccessReviewResponse>.Ok((await ResponsesAsync([review.Id], ct))[0]);
    }

    /// <summary>
    /// The assignments in scope, one item per (user, role, group): each direct holder of a scoped role, each membership
    /// of a group that carries a scoped role (with that role), and each membership of a scoped group. The reserved user
    /// is never reviewed. Validity is copied as it stands.
    /// </summary>
    private async Task<List<AccessReviewItem>> SnapshotAsync(Guid reviewId, IReadOnlyList<Role> roles, IReadOnlyList<Group> groups, CancellationToken ct)
    {
        var roleIds = roles.Select(r => r.Id).ToList();
        var groupIds = groups.Select(g => g.Id).ToList();
        var reserved = Usernames.ReservedNormalized;

        var direct = await db.UserRoles.AsNoTracking()
            .Where(r => roleIds.Contains(r.RoleId))
            .Join(db.Users.Where(u => u.NormalizedUsername != reserved), r => r.UserId, u => u.Id, (r, u) => new { u.Id, u.Username, r.RoleId, r.ValidFrom, r.ValidUntil })
            .ToListAsync(ct);
        var throughGroups = await db.GroupRoles.AsNoTracking()
            .Where(g => roleIds.Contains(g.RoleId))
            .Join(db.GroupMembers, g => g.GroupId, m => m.GroupId, (g, m) => new { g.RoleId, m.GroupId, m.UserId, m.ValidFrom, m.ValidUntil })
            .Join(db.Users.Where(u => u.NormalizedUsername != reserved), m => m.UserId, u => u.Id, (m, u) => new { u.Id, u.Username, m.RoleId, m.GroupId, m.ValidFrom, m.ValidUntil })
            .ToListAsync(ct);
        var members = await db.GroupMembers.AsNoTracking()
            .Where(m => groupIds.Contains(m.GroupId))
            .Join(db.Users.Where(u => u.NormalizedUsername != reserved), m => m.UserId, u => u.Id, (m, u) => new { u.Id, u.Username, m.GroupId, m.ValidFrom, m.ValidUntil })
            .ToListAsync(ct);

        var roleNames = roles.ToDictionary(r => r.Id, r => r.Name);
        var groupNames = (await db.Groups.AsNoTracking().Where(g => throughGroups.Select(t => t.GroupId).Distinct().Contains(g.Id) || groupIds.Contains(g.Id))
            .Select(g => new { g.Id, g.Name }).ToListAsync(ct)).ToDictionary(g => g.Id, g => g.Name);

        var items = new Dictionary<(Guid User, Guid? Role, Guid? Group), AccessReviewItem>();
        void Add(Guid userId, string username, Guid? roleId, Guid? groupId, DateTime? from, DateTime? until)
            => items.TryAdd((userId, roleId, groupId), new AccessReviewItem
            {
                ReviewId = reviewId, UserId = userId, Username = username,
                RoleId = roleId, RoleName = roleId is { } r ? roleNames[r] : null,
                GroupId = groupId, GroupName = groupId is { } g ? groupNames[g] : null,
                ValidFrom = from, ValidUntil = until,
            });

        foreach (var d in direct)
        {
            Add(d.Id, d.Username, d.RoleId, null, d.ValidFrom, d.ValidUntil);
        }

        foreach (var t in throughGroups)
        {
            Add(t.Id, t.Username, t.RoleId, t.GroupId, t.ValidFrom, t.ValidUntil);
        }

        foreach (var m in members)
        {
            Add(m.Id, m.Username, null, m.GroupId, m.ValidFrom, m.ValidUntil);
        }

        return [.. items.Values.OrderBy(i => i.Username, StringComparer.Ordinal).ThenBy(i => i.RoleName, StringComparer.Ordinal).ThenBy(i => i.GroupName, StringComparer.Ordinal)];
    }

    /// <summary>Every campaign for a governor (or only those they review, with <paramref name="mine"/>); for anyone else, those they review.</summary>
    public async Task<AccessReviewList> ListAsync(bool mine, CancellationToken ct)
    {
        var viewer = await ViewerAsync(ct);
        var reviews = db.AccessReviews.AsNoTracking();
        if (mine || !viewer.Governs)
        {
            reviews = reviews.Where(r => db.AccessReviewReviewers.Any(x => x.ReviewId == r.Id && x.UserId == viewer.Id));
        }

        var ids = await reviews.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Select(r => r.Id).Take(1000).ToListAsync(ct);
        return new AccessReviewList(await ResponsesAsync(ids, ct));
    }

    public async Task<Outcome<AccessReviewResponse>> GetAsync(Guid id, CancellationToken ct)
    {
        if (await VisibleAsync(id, ct) is { } failure)
        {
            return failure;
        }

        return Outcome<AccessReviewResponse>.Ok((await ResponsesAsync([id], ct))[0]);
    }

    /// <summary>A page of a campaign's items, ordered by username, optionally only those pending, kept or revoked.</summary>
    public async Task<Outcome<AccessReviewItemPage>> ItemsAsync(Guid id, AccessReviewItemQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var decision = query.Decision?.Trim().ToLowerInvariant();
        if (decision is not (null or "pending" or AccessReviewStatus.Keep or AccessReviewStatus.Revoke))
        {
            errors["decision"] = ["decision is pending, keep or revoke."];
        }

        var limit = query.Limit ?? DefaultItemLimit;
        if (limit is < 1 or > MaxItemLimit)
        {
            errors["limit"] = [$"limit is between 1 and {MaxItemLimit}."];
        }

        ItemCursor? after = null;
        if (query.Cursor is not null && !ItemCursor.TryDecode(query.Cursor, out after))
        {
            errors["cursor"] = [Http.Paging.CursorMessage];
        }

        if (errors.Count > 0)
        {
            return Http.Paging.Refuse(errors);
        }

        if (await VisibleAsync(id, ct) is { } failure)
        {
            return failure;
        }

        var items = db.AccessReviewItems.AsNoTracking().Where(i => i.ReviewId == id);
        items = decision switch
        {
            "pending" => items.Where(i => i.Decision == null),
            null => items,
            _ => items.Where(i => i.Decision == decision),
        };
        if (after is { } position)
        {
            // Keyset on (username, id): the same order however many decisions change between pages.
            var (username, last) = (position.Username, position.Id);
            items = items.Where(i => string.Compare(i.Username, username) > 0 || (i.Username == username && i.Id.CompareTo(last) > 0));
        }

        var page = await items.OrderBy(i => i.Username).ThenBy(i => i.Id).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            next = new ItemCursor(page[^1].Username, page[^1].Id).Encode();
        }

        return Outcome<AccessReviewItemPage>.Ok(new AccessReviewItemPage([.. page.Select(ToResponse)], next));
    }

    /// <summary>
    /// Records a reviewer's decisions, all or none: only a reviewer named in the campaign, never on their own assignments,
    /// while the campaign is open. A decision may be changed until the close. Each decision writes <c>access_review.decided</c>.
    /// </summary>
    public async Task<Outcome<AccessReviewDecisionsResponse>> DecideAsync(Guid id, AccessReviewDecisionsRequest request, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var wanted = request.Items ?? [];
        if (wanted.Count == 0)
        {
            errors["items"] = ["items holds at least one decision."];
        }
        else if (wanted.Count > AccessReviewRules.MaxDecisionsPerRequest)
        {
            errors["items"] = [$"At most {AccessReviewRules.MaxDecisionsPerRequest} decisions per request."];
        }

        var decisions = new Dictionary<Guid, (string Decision, string? Comment)>();
        for (var n = 0; n < wanted.Count && errors.Count == 0; n++)
        {
            var entry = wanted[n];
            if (entry.Id is not { } itemId)
            {
                errors[$"items[{n}].id"] = ["id is required."];
            }
            else if (!AccessReviewRules.TryParseDecision(entry.Decision, out var decision))
            {
                errors[$"items[{n}].decision"] = ["decision is keep or revoke."];
            }
            else if (entry.Comment?.Trim().Length > AccessReviewRules.MaxCommentLength)
            {
                errors[$"items[{n}].comment"] = [$"comment can be at most {AccessReviewRules.MaxCommentLength} characters."];
            }
            else if (!decisions.TryAdd(itemId, (decision, string.IsNullOrWhiteSpace(entry.Comment) ? null : entry.Comment.Trim())))
            {
                errors[$"items[{n}].id"] = ["Each item is decided once per request."];
            }
        }

        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var viewer = await ViewerAsync(ct);
        var actor = audit.CurrentActor();
        var now = clock.GetUtcNow().UtcDateTime;
        await using (var tx = await db.BeginDirectoryChangeAsync(ct))
        {
            // Serialized with the close: a decision either lands before the campaign closes, or is refused.
            var review = await db.AccessReviews.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, ct);
            if (review is null)
            {
                return NotFound(id);
            }

            if (!await db.AccessReviewReviewers.AnyAsync(r => r.ReviewId == id && r.UserId == viewer.Id, ct))
            {
                return Failure.Forbidden("not_a_reviewer", "Only a reviewer named in the campaign decides on its items.");
            }

            if (review.Status != AccessReviewStatus.Open)
            {
                return Closed();
            }

            var ids = decisions.Keys.ToList();
            var items = await db.AccessReviewItems.Where(i => i.ReviewId == id && ids.Contains(i.Id)).ToListAsync(ct);
            if (ids.Where(i => items.All(x => x.Id != i)).Select(i => (Guid?)i).FirstOrDefault() is { } missing)
            {
                return Failure.Conflict("unknown_item", $"The campaign has no item with the id {missing}.");
            }

            if (items.FirstOrDefault(i => i.UserId == viewer.Id) is { } own)
            {
                return Failure.Forbidden("self_review", $"Item {own.Id} is your own access: another reviewer decides on it.");
            }

            foreach (var item in items)
            {
                var (decision, comment) = decisions[item.Id];
                var previous = item.Decision;
                item.Decision = decision;
                item.Comment = comment;
                item.DecidedBy = viewer.Id;
                item.DecidedByUsername = actor.Name;
                item.DecidedAt = now;
                audit.Record(db, "access_review.decided", "access_review", review.Id.ToString(), review.Name, new
                {
                    item = item.Id, userId = item.UserId, user = item.Username, role = item.RoleName, group = item.GroupName,
                    decision, previous, comment, reviewer = actor.Name,
                });
            }

            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        db.ChangeTracker.Clear();
        return Outcome<AccessReviewDecisionsResponse>.Ok(new AccessReviewDecisionsResponse(decisions.Count, (await ProgressAsync([id], ct))[id]));
    }

    /// <summary>
    /// Closes an open campaign and applies every <c>revoke</c> decision, each as its own <see cref="RevokeAccess"/> through
    /// the pipeline so that one refusal does not hold back the rest. Each item records its outcome; undecided items are kept
    /// and reported as not reviewed. The campaign is marked closed first, in the directory's transaction, so no decision
    /// lands after the revocations were read.
    /// </summary>
    public async Task<Outcome<AccessReviewResponse>> CloseAsync(Guid id, CancellationToken ct)
    {
        var viewer = await ViewerAsync(ct);
        if (!viewer.Governs)
        {
            return NotGoverning();
        }

        var now = clock.GetUtcNow().UtcDateTime;
        string name;
        await using (var tx = await db.BeginDirectoryChangeAsync(ct))
        {
            var review = await db.AccessReviews.SingleOrDefaultAsync(r => r.Id == id, ct);
            if (review is null)
            {
                return NotFound(id);
            }

            if (review.Status != AccessReviewStatus.Open)
            {
                return Closed();
            }

            review.Status = AccessReviewStatus.Closed;
            review.ClosedAt = now;
            review.ClosedBy = viewer.Id == Guid.Empty ? null : viewer.Id;
            name = review.Name;
            // What needs no revocation is settled with the close itself.
            await db.AccessReviewItems.Where(i => i.ReviewId == id && i.Decision == null).ExecuteUpdateAsync(s => s.SetProperty(i => i.Outcome, AccessReviewRules.NotReviewed), ct);
            await db.AccessReviewItems.Where(i => i.ReviewId == id && i.Decision == AccessReviewStatus.Keep).ExecuteUpdateAsync(s => s.SetProperty(i => i.Outcome, AccessReviewRules.Kept), ct);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        db.ChangeTracker.Clear();
        var revocations = await db.AccessReviewItems.AsNoTracking()
            .Where(i => i.ReviewId == id && i.Decision == AccessReviewStatus.Revoke)
            .OrderBy(i => i.Username).ThenBy(i => i.Id)
            .Select(i => new { i.Id, i.UserId, i.RoleId, i.GroupId }).ToListAsync(ct);
        foreach (var item in revocations)
        {
            var (failure, removed) = await RevokeAsync(new RevokeAccess(pipeline.ActorId(), item.UserId, item.RoleId, item.GroupId, id), ct);
            var outcome = failure switch
            {
                null => removed ? AccessReviewRules.Applied : AccessReviewRules.AlreadyRemoved,
                { Kind: FailureKind.Deferred } => AccessReviewRules.SentForApproval,
                { Code: "not_found" } => AccessReviewRules.AlreadyRemoved,
                _ => AccessReviewRules.Failed(failure.Code),
            };
            await db.AccessReviewItems.Where(i => i.Id == item.Id).ExecuteUpdateAsync(s => s.SetProperty(i => i.Outcome, outcome), ct);
        }

        var closing = (await ClosingsAsync([id], ct))[id];
        audit.Record(db, "access_review.closed", "access_review", id.ToString(), name, new
        {
            closing.Applied, closing.SentForApproval, closing.AlreadyRemoved, closing.Failed, closing.Kept, closing.NotReviewed,
        });
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return Outcome<AccessReviewResponse>.Ok((await ResponsesAsync([id], ct))[0]);
    }

    /// <summary>
    /// The use case of <see cref="RevokeAccess"/>: removes the direct role (no group) or the group membership, judged as an
    /// account action on the user by the delegation rules; the user's invariants are checked again (last administrator,
    /// System role). Removed is false when the assignment was already gone (nothing changed).
    /// </summary>
    public async Task<(Failure? Failure, bool Removed)> RevokeAsync(RevokeAccess change, CancellationToken ct)
    {
        var removed = false;
        var failure = await pipeline.RunAsync(change, async scope =>
        {
            object? assignment = change.GroupId is { } groupId
                ? await db.GroupMembers.Include(m => m.Group).SingleOrDefaultAsync(m => m.UserId == change.UserId && m.GroupId == groupId, ct)
                : change.RoleId is { } roleId
                    ? await db.UserRoles.Include(r => r.Role).SingleOrDefaultAsync(r => r.UserId == change.UserId && r.RoleId == roleId, ct)
                    : null;
            // A membership reviewed for a role the group no longer carries: the access under review is gone already, and
            // removing the membership now would take away only what nobody reviewed.
            if (assignment is null || (change.GroupId is { } group && change.RoleId is { } broughtRole
                && !await db.GroupRoles.AnyAsync(g => g.GroupId == group && g.RoleId == broughtRole, ct)))
            {
                scope.NothingChanged();
                return null;
            }

            var found = await UserService.AccountAsync(scope, change.UserId, AccountAction.Change, ct);
            if (found.Failure is { } refused)
            {
                return refused;
            }

            var user = found.Value!;
            object details;
            if (assignment is GroupMember member)
            {
                db.GroupMembers.Remove(member);
                details = new { review = change.ReviewId, group = member.Group!.Name, role = await RoleNameAsync(change.RoleId, ct), member.ValidFrom, member.ValidUntil };
            }
            else
            {
                var grant = (UserRole)assignment;
                db.UserRoles.Remove(grant);
                details = new { review = change.ReviewId, role = grant.Role!.Name, grant.ValidFrom, grant.ValidUntil };
            }

            user.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            scope.Affected.Add(user.Id);
            scope.Audit(details);
            removed = true;
            return null;
        }, ct);
        return (failure, removed && failure is null);
    }

    private async Task<string?> RoleNameAsync(Guid? roleId, CancellationToken ct)
        => roleId is { } id ? await db.Roles.Where(r => r.Id == id).Select(r => r.Name).SingleOrDefaultAsync(ct) : null;

    /// <summary>
    /// Once an approved revocation applies, the campaign's item that sent it for approval says so. Items of the same
    /// assignment are matched, since the stored change names the assignment, not the item.
    /// </summary>
    internal async Task RecordApprovedAsync(RevokeAccess change, CancellationToken ct)
        => await db.AccessReviewItems
            .Where(i => i.ReviewId == change.ReviewId && i.UserId == change.UserId && i.RoleId == change.RoleId && i.GroupId == change.GroupId
                && i.Outcome == AccessReviewRules.SentForApproval)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.Outcome, AccessReviewRules.Applied), ct);

    /// <summary>The campaign for its report, once the caller may see it; the items are read as they are written out.</summary>
    public async Task<Outcome<AccessReviewReport>> ReportAsync(Guid id, CancellationToken ct)
    {
        if (await VisibleAsync(id, ct) is { } failure)
        {
            return failure;
        }

        return Outcome<AccessReviewReport>.Ok(new AccessReviewReport((await ResponsesAsync([id], ct))[0], db));
    }

    /// <summary>Null when the campaign exists and the caller governs campaigns or reviews this one.</summary>
    private async Task<Failure?> VisibleAsync(Guid id, CancellationToken ct)
    {
        var viewer = await ViewerAsync(ct);
        if (!await db.AccessReviews.AnyAsync(r => r.Id == id, ct))
        {
            return NotFound(id);
        }

        return viewer.Governs || await db.AccessReviewReviewers.AnyAsync(r => r.ReviewId == id && r.UserId == viewer.Id, ct)
            ? null
            : Failure.Forbidden("not_a_reviewer", "Only a reviewer named in the campaign, or a holder of MANAGE_GOVERNANCE, sees it.");
    }

    /// <summary>Campaigns as answered, in the order of <paramref name="ids"/>, in four queries however many.</summary>
    private async Task<List<AccessReviewResponse>> ResponsesAsync(IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var list = ids.ToList();
        var reviews = await db.AccessReviews.AsNoTracking().Where(r => list.Contains(r.Id)).ToDictionaryAsync(r => r.Id, ct);
        var reviewers = (await db.AccessReviewReviewers.AsNoTracking().Where(r => list.Contains(r.ReviewId))
                .Join(db.Users, r => r.UserId, u => u.Id, (r, u) => new { r.ReviewId, u.Id, u.Username }).ToListAsync(ct))
            .ToLookup(r => r.ReviewId, r => new AccessReviewReviewerResponse(r.Id, r.Username));
        var progress = await ProgressAsync(list, ct);
        var closings = await ClosingsAsync([.. list.Where(id => reviews[id].Status == AccessReviewStatus.Closed)], ct);
        var now = clock.GetUtcNow().UtcDateTime;
        return [.. list.Select(id =>
        {
            var r = reviews[id];
            return new AccessReviewResponse(r.Id, r.Name, ParseScope(r.Scope), [.. reviewers[id].OrderBy(x => x.Username, StringComparer.Ordinal)],
                r.DueAt, r.Status, AccessReviewRules.IsOverdue(r.Status, r.DueAt, now), progress[id], r.CreatedAt, r.CreatedByUsername, r.ClosedAt,
                closings.GetValueOrDefault(id));
        })];
    }

    private async Task<Dictionary<Guid, AccessReviewProgress>> ProgressAsync(IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var list = ids.ToList();
        var counts = await db.AccessReviewItems.Where(i => list.Contains(i.ReviewId)).GroupBy(i => new { i.ReviewId, i.Decision })
            .Select(g => new { g.Key.ReviewId, g.Key.Decision, Count = g.Count() }).ToListAsync(ct);
        return list.Distinct().ToDictionary(id => id, id =>
        {
            var of = counts.Where(c => c.ReviewId == id).ToList();
            var keep = of.Where(c => c.Decision == AccessReviewStatus.Keep).Sum(c => c.Count);
            var revoke = of.Where(c => c.Decision == AccessReviewStatus.Revoke).Sum(c => c.Count);
            var pending = of.Where(c => c.Decision == null).Sum(c => c.Count);
            return new AccessReviewProgress(keep + revoke + pending, keep + revoke, keep, revoke, pending);
        });
    }

    private async Task<Dictionary<Guid, AccessReviewClosing>> ClosingsAsync(IReadOnlyList<Guid> ids, CancellationToken ct)
    {
        var list = ids.ToList();
        if (list.Count == 0)
        {
            return [];
        }

        var counts = await db.AccessReviewItems.Where(i => list.Contains(i.ReviewId)).GroupBy(i => new { i.ReviewId, i.Outcome })
            .Select(g => new { g.Key.ReviewId, g.Key.Outcome, Count = g.Count() }).ToListAsync(ct);
        return list.ToDictionary(id => id, id =>
        {
            var of = counts.Where(c => c.ReviewId == id).ToList();
            int Count(string outcome) => of.Where(c => c.Outcome == outcome).Sum(c => c.Count);
            return new AccessReviewClosing(Count(AccessReviewRules.Applied), Count(AccessReviewRules.SentForApproval), Count(AccessReviewRules.AlreadyRemoved),
                of.Where(c => c.Outcome?.StartsWith("failed:", StringComparison.Ordinal) == true).Sum(c => c.Count),
                Count(AccessReviewRules.Kept), Count(AccessReviewRules.NotReviewed));
        });
    }

    public static AccessReviewItemResponse ToResponse(AccessReviewItem i)
        => new(i.Id, i.UserId, i.Username, i.RoleId, i.RoleName, i.GroupId, i.GroupName, i.ValidFrom, i.ValidUntil, i.Decision, i.DecidedByUsername, i.DecidedAt, i.Comment, i.Outcome);

    private static AccessReviewScope ParseScope(string json)
    {
        var scope = JsonSerializer.Deserialize<AccessReviewScope>(json, JsonSerializerOptions.Web);
        return new AccessReviewScope(scope?.Roles ?? [], scope?.Groups ?? []);
    }

    private static List<string> Names(List<string>? names)
        => [.. (names ?? []).Where(n => !string.IsNullOrWhiteSpace(n)).Select(n => n.Trim()).Distinct(StringComparer.OrdinalIgnoreCase)];

    private static Failure Invalid(Dictionary<string, string[]> errors)
        => Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);

    private static Failure NotFound(Guid id) => Failure.NotFound($"No access review has the id {id}.");

    /// <summary>The endpoints require the privilege already; the pages share this use case, so it judges again.</summary>
    private static Failure NotGoverning() => Failure.Forbidden("forbidden", "Creating and closing review campaigns needs MANAGE_GOVERNANCE.");

    private static Failure Closed() => Failure.Conflict("review_closed", "The campaign is closed: its decisions are final.");

    /// <summary>An opaque position in a campaign's items: the last username and item id of the page.</summary>
    private sealed record ItemCursor(string Username, Guid Id)
    {
        public string Encode() => WebEncoders.Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(new[] { Username, Id.ToString() }));

        public static bool TryDecode(string encoded, out ItemCursor? cursor)
        {
            cursor = null;
            try
            {
                var parts = JsonSerializer.Deserialize<string[]>(Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(encoded)));
                if (parts is { Length: 2 } && parts[0] is { } username && !Http.StrictRequests.HasControlCharacter(username)
                    && !Http.StrictRequests.HasLoneSurrogate(username) && Guid.TryParse(parts[1], out var id))
                {
                    cursor = new ItemCursor(username, id);
                    return true;
                }
            }
            catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
            {
            }

            return false;
        }
    }
}

/// <summary>Applies a stored <see cref="RevokeAccess"/> again (an approved change request), as the current request's user.</summary>
public sealed class AccessRevocationReplay(AccessReviewService reviews, DirectoryPipeline pipeline) : IChangeReplay
{
    public bool Replays(DirectoryChange change) => change is RevokeAccess;

    /// <summary>Taking a role or membership from a user is managing that user.</summary>
    public string PrivilegeFor(DirectoryChange change) => Tessera.Core.Access.Privileges.ManageUsers;

    public async Task<Failure?> ReplayAsync(DirectoryChange change, CancellationToken ct)
    {
        var revoke = (RevokeAccess)change;
        var (failure, _) = await reviews.RevokeAsync(revoke with { ActorId = pipeline.ActorId() ?? revoke.ActorId }, ct);
        if (failure is null)
        {
            await reviews.RecordApprovedAsync(revoke, ct);
        }

        return failure;
    }
}
