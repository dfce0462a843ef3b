using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Access;
using Tessera.Server.Audit;
using Tessera.Server.Governance;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Changes;

/// <summary>
/// The one way a <see cref="DirectoryChange"/> reaches the store:
/// <list type="number">
/// <item>authorize: the use case works out the change's <see cref="ChangeImpact"/> and asks
/// <see cref="ChangeScope.AuthorizeAsync"/>, which applies <see cref="Delegation"/> to the actor's access
/// as read inside the transaction (so a privilege removed a moment ago no longer counts);</item>
/// <item>apply: the use case changes the entities;</item>
/// <item>guard: the change is saved (unique indexes answer), the actor must keep its own MANAGE_USERS,
/// and <see cref="DirectoryGuard"/> checks the directory's invariants against the saved state;</item>
/// <item>audit: the events the use case named join the same transaction;</item>
/// <item>commit;</item>
/// <item>invalidate the cached standing of callers.</item>
/// </list>
/// A refused or failed change rolls back whole. A refusal by the delegation rules then writes one
/// <c>access.denied</c> event of its own: the one failed request that is audited, since a security team
/// watches for them.
/// <para>
/// Four-eyes approval happens here and nowhere else: a change that applied and passed the guard, made by a user,
/// that the approval policy puts under approval (<see cref="ApprovalDeferral.OperationAsync"/>) is rolled back and
/// stored as a change request instead, and the use case answers <see cref="FailureKind.Deferred"/>. A change that
/// would fail anyway is refused at once, not stored. When <see cref="ApprovalContext"/> says this request applies an
/// approved change request, the change is not deferred again, the request is marked approved in the same
/// transaction, and the change's audit events name the request, its maker and its checker.
/// </para>
/// </summary>
public sealed class DirectoryPipeline(
    TesseraDbContext db,
    AuditLog audit,
    CallerDirectory callers,
    IHttpContextAccessor http,
    TimeProvider clock,
    ApprovalContext approval,
    ApprovalDeferral deferral)
{
    /// <summary>
    /// The user acting in the current request; null only outside a request (the service itself).
    /// A request without a signed-in user acts as <see cref="Guid.Empty"/>, who holds nothing.
    /// </summary>
    public Guid? ActorId()
    {
        if (http.HttpContext is not { } context)
        {
            return null;
        }

        return Guid.TryParse(context.User.FindFirst(TesseraClaims.Subject)?.Value, out var id) ? id : Guid.Empty;
    }

    /// <summary>Runs a change through the pipeline, then reads the result (after the commit).</summary>
    public async Task<Outcome<T>> RunAsync<T>(DirectoryChange change, Func<ChangeScope, Task<Failure?>> apply, Func<CancellationToken, Task<T>> result, CancellationToken ct)
        => await RunAsync(change, apply, ct) is { } failure ? failure : Outcome<T>.Ok(await result(ct));

    /// <summary>Runs a change through the pipeline; null when it applied (or changed nothing).</summary>
    public async Task<Failure?> RunAsync(DirectoryChange change, Func<ChangeScope, Task<Failure?>> apply, CancellationToken ct)
    {
        ChangeScope scope;
        Failure? failure;
        (string Operation, Tessera.Core.Governance.ApprovalPolicy Policy)? deferTo = null;
        var replaying = approval.Replaying;
        await using (var tx = await db.BeginDirectoryChangeAsync(ct))
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var actorAccess = change.ActorId is { } actorId ? await AccessLoader.LoadAsync(db, actorId, now, ct) : null;
            scope = new ChangeScope(db, change, actorAccess, now);
            failure = await apply(scope);
            if (failure is null && scope.Changed)
            {
                // A new security stamp or a deletion ends the user's stored sessions in this same transaction.
                await WebSessionRecords.EndForCredentialChangesAsync(db, audit, change, clock.GetUtcNow().UtcDateTime, ct);
            }

            failure ??= await GuardAsync(scope, ct);
            if (failure is null && scope.Changed && replaying is null && change.ActorId is { } maker && maker != Guid.Empty)
            {
                deferTo = await deferral.OperationAsync(scope, ct);
            }

            if (failure is null && deferTo is null && replaying is not null)
            {
                failure = await MarkApprovedAsync(replaying, ct);
            }

            if (failure is null && deferTo is null && (scope.Changed || replaying is not null))
            {
                foreach (var entry in scope.Events)
                {
                    audit.Record(db, entry.Action, entry.Target.Type, entry.Target.Id?.ToString(), entry.Target.Name,
                        replaying is null ? entry.Details : WithApproval(entry.Details));
                }

                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                approval.Completed = replaying is not null;
            }
        }

        if (deferTo is { } deferred)
        {
            // Rolled back: nothing of the change applied. It is stored, as it stands, for a second person.
            db.ChangeTracker.Clear();
            return await deferral.DeferAsync(db, scope, deferred.Operation, deferred.Policy, ct);
        }

        if (failure is not null)
        {
            // The transaction rolled back; what the use case tracked must not be saved with the refusal.
            db.ChangeTracker.Clear();
            if (scope.Refusal is { } refusal)
            {
                approval.RefusedByDelegation = replaying is not null;
                await RecordRefusalAsync(scope, refusal, ct);
            }

            return failure;
        }

        if (scope.Changed)
        {
            callers.Invalidate();
        }

        return null;
    }

    /// <summary>
    /// Marks the approved request in the change's own transaction. Directory transactions are serialized, so of two
    /// checkers approving at once the second finds the request decided and its replay rolls back.
    /// </summary>
    private async Task<Failure?> MarkApprovedAsync(ChangeRequest replaying, CancellationToken ct)
    {
        var request = await db.ChangeRequests.SingleOrDefaultAsync(r => r.Id == replaying.Id, ct);
        if (request is null || request.Status != Tessera.Core.Governance.ChangeRequestStatus.Pending)
        {
            return ChangeRequestService.NotPending(request?.Status ?? "deleted");
        }

        request.Status = Tessera.Core.Governance.ChangeRequestStatus.Approved;
        request.CheckerId = approval.CheckerId;
        request.CheckerUsername = approval.CheckerUsername;
        request.DecidedAt = clock.GetUtcNow().UtcDateTime;
        request.Comment = approval.Comment;
        audit.Record(db, "change_request.approved", "change_request", request.Id.ToString(), request.Operation, new
        {
            request.Operation,
            maker = new { id = request.MakerId, username = request.MakerUsername },
            checker = new { id = approval.CheckerId, username = approval.CheckerUsername },
            comment = request.Comment,
            outcome = "applied",
            change = JsonDocument.Parse(request.Preview).RootElement,
        });
        return null;
    }

    /// <summary>An applied request's event: its own details, and the request that carried it (id, maker, checker).</summary>
    private JsonObject WithApproval(object? details)
    {
        var node = details is null ? new JsonObject() : JsonSerializer.SerializeToNode(details, JsonSerializerOptions.Web);
        var result = node as JsonObject ?? new JsonObject { ["value"] = node };
        result["changeRequest"] = JsonSerializer.SerializeToNode(approval.Describe(), JsonSerializerOptions.Web);
        return result;
    }

    private async Task<Failure?> GuardAsync(ChangeScope scope, CancellationToken ct)
    {
        if (!scope.Changed)
        {
            return null;
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out var constraint))
        {
            return scope.UniqueViolation?.Invoke(constraint)
                ?? Failure.Conflict("conflict", "Another change made the same name or key meanwhile; reload and try again.");
        }

        // Checked before the directory's own invariants: "you would lock yourself out" says more than "no one would be left".
        if (scope.Change.ActorId is { } actorId && scope.ActorAccess is { } before
            && Delegation.LosesOwnAccess(before.Privileges, (await AccessLoader.LoadAsync(db, actorId, scope.Now, ct)).Privileges) is { } lockout)
        {
            return scope.Refuse(lockout);
        }

        return await DirectoryGuard.CheckAsync(db, scope.Affected.Distinct().ToList(), clock.GetUtcNow().UtcDateTime, ct);
    }

    private async Task RecordRefusalAsync(ChangeScope scope, DelegationRefusal refusal, CancellationToken ct)
    {
        var target = scope.Target;
        audit.Record(db, "access.denied", target.Type, target.Id?.ToString(), target.Name, new
        {
            attempted = scope.Change.Action,
            reason = refusal.Code,
            privileges = refusal.Privileges,
            account = refusal.Target is { } account && account.Id != target.Id ? new { account.Id, account.Username } : null,
        }, "failure");
        await db.SaveChangesAsync(ct);
    }
}

/// <summary>One change on its way through <see cref="DirectoryPipeline"/>: what the use case reads and tells the pipeline.</summary>
public sealed class ChangeScope(TesseraDbContext db, DirectoryChange change, EffectiveAccess? actorAccess, DateTime now)
{
    /// <summary>The instant the change is judged at: the validity of role grants and memberships is read at it.</summary>
    public DateTime Now => now;

    public TesseraDbContext Db => db;

    public DirectoryChange Change => change;

    /// <summary>The actor's access as read in the transaction; null when the service itself acts.</summary>
    public EffectiveAccess? ActorAccess => actorAccess;

    /// <summary>The target as the audit log names it; the use case adds the name (or the id of something new) once it knows it.</summary>
    public ChangeTarget Target { get; set; } = change.Target;

    /// <summary>Users whose roles, groups or type the change touches, for the invariants.</summary>
    public List<Guid> Affected { get; } = [];

    /// <summary>
    /// Roles this change gives to someone: directly, as a group's new role, or through a new membership.
    /// The approval policy's <c>grant_role</c> reads it.
    /// </summary>
    public HashSet<Guid> GrantedRoles { get; } = [];

    /// <summary>
    /// Further approval-policy operations this change falls under, beyond its kind's own: a role losing its
    /// requiresApproval flag falls under <c>grant_role</c>, since it opens the role to grants without approval.
    /// </summary>
    public HashSet<string> FallsUnder { get; } = [];

    /// <summary>Set when the change needs approval whatever the policy lists (a policy change that relaxes the policy).</summary>
    public string? ApprovalRequiredAs { get; private set; }

    public void RequireApproval(string operation) => ApprovalRequiredAs = operation;

    /// <summary>False when the change turned out to change nothing: no save, no audit, no invalidation.</summary>
    public bool Changed { get; private set; } = true;

    /// <summary>What a unique-index violation at save means for this change (taken username, say).</summary>
    public Func<string?, Failure>? UniqueViolation { get; set; }

    internal DelegationRefusal? Refusal { get; private set; }

    internal List<(string Action, ChangeTarget Target, object? Details)> Events { get; } = [];

    public void NothingChanged() => Changed = false;

    /// <summary>The change's own audit event, on its target.</summary>
    public void Audit(object? details = null) => Events.Add((change.Action, Target, details));

    public void Audit(string action, ChangeTarget target, object? details = null) => Events.Add((action, target, details));

    /// <summary>Judges the change by the delegation rules; the failure to return when refused.</summary>
    public Failure? Authorize(ChangeImpact impact)
        => change.ActorId is { } actorId && actorAccess is not null && Delegation.Authorize(actorId, actorAccess.Privileges, impact) is { } refusal
            ? Refuse(refusal)
            : null;

    /// <summary>Every privilege the given roles carry.</summary>
    public async Task<IReadOnlyCollection<string>> PrivilegesOfRolesAsync(IEnumerable<Guid> roleIds, CancellationToken ct)
    {
        var ids = roleIds.Distinct().ToList();
        return ids.Count == 0 ? [] : await db.RolePrivileges.Where(p => ids.Contains(p.RoleId)).Select(p => p.Privilege).Distinct().ToListAsync(ct);
    }

    /// <summary>The privileges the given groups' roles carry: what a new member gains.</summary>
    public async Task<IReadOnlyCollection<string>> PrivilegesOfGroupsAsync(IEnumerable<Guid> groupIds, CancellationToken ct)
    {
        var ids = groupIds.Distinct().ToList();
        return ids.Count == 0 ? [] : await PrivilegesOfRolesAsync(await db.GroupRoles.Where(r => ids.Contains(r.GroupId)).Select(r => r.RoleId).ToListAsync(ct), ct);
    }

    /// <summary>An account as the delegation rules see it: its effective privileges now, before the change.</summary>
    public async Task<AccountTarget> AccountAsync(Guid userId, string username, CancellationToken ct)
        => new(userId, username, (await AccessLoader.LoadAsync(db, userId, now, ct)).Privileges);

    internal Failure Refuse(DelegationRefusal refusal)
    {
        Refusal = refusal;
        return new Failure(refusal.Code == DelegationCodes.SelfLockout ? FailureKind.Conflict : FailureKind.Forbidden, refusal.Code, refusal.Detail)
        {
            Extensions = new Dictionary<string, object?> { ["privileges"] = refusal.Privileges },
        };
    }
}
