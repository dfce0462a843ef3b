using System.Globalization;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Access;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.Credentials;
using Tessera.Server.Mail;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Governance;

/// <summary>
/// The four-eyes half of <see cref="DirectoryPipeline"/>: whether a change that would apply needs a second person
/// (<see cref="OperationAsync"/>), and storing it as a change request instead (<see cref="DeferAsync"/>).
/// </summary>
public sealed class ApprovalDeferral(AuditLog audit, MailOutbox outbox, IHttpContextAccessor http, IOptions<TesseraOptions> tessera, TimeProvider clock, ILogger<ApprovalDeferral> logger)
{
    public const string Code = "approval_required";
    public const string MailTemplate = MailTemplates.ChangeRequest;

    /// <summary>
    /// The operation under which the change must be approved, with the policy that says so; null when it applies at once.
    /// Read inside the change's serialized transaction: a policy switched on binds the next change on every instance.
    /// </summary>
    public async Task<(string Operation, ApprovalPolicy Policy)?> OperationAsync(ChangeScope scope, CancellationToken ct)
    {
        var policy = await ApprovalPolicyStore.GetAsync(scope.Db, ct);
        if (scope.ApprovalRequiredAs is { } required)
        {
            return (required, policy);
        }

        if (!policy.Any)
        {
            return null;
        }

        if (scope.Change.ApprovalOperation is { } operation && policy.Requires(operation))
        {
            return (operation, policy);
        }

        if (scope.FallsUnder.FirstOrDefault(policy.Requires) is { } also)
        {
            return (also, policy);
        }

        if (policy.Requires(ApprovalOperations.GrantRole) && scope.GrantedRoles.Count > 0)
        {
            var granted = scope.GrantedRoles.ToList();
            if (await scope.Db.Roles.AnyAsync(r => granted.Contains(r.Id) && r.RequiresApproval, ct))
            {
                return (ApprovalOperations.GrantRole, policy);
            }
        }

        return null;
    }

    /// <summary>
    /// Stores the change (rolled back already) as a pending change request, audits <c>change_request.created</c>, queues
    /// the mail to the eligible checkers, commits, and answers the <see cref="FailureKind.Deferred"/> failure that the
    /// API turns into 202.
    /// </summary>
    public async Task<Failure> DeferAsync(TesseraDbContext db, ChangeScope scope, string operation, ApprovalPolicy policy, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var makerId = scope.Change.ActorId!.Value;
        var maker = await db.Users.AsNoTracking().Where(u => u.Id == makerId).Select(u => u.Username).SingleOrDefaultAsync(ct) ?? "";
        var reason = ChangeRequestReason.Of(http.HttpContext);
        var preview = scope.Events.Select(e => new
        {
            action = e.Action,
            target = new { type = e.Target.Type, id = e.Target.Id, name = e.Target.Name },
            details = e.Details,
        }).ToList();
        var name = scope.Target.Name ?? scope.Change.Target.Name;
        var request = new ChangeRequest
        {
            Operation = operation,
            Change = JsonSerializer.Serialize(scope.Change, JsonSerializerOptions.Web),
            Preview = JsonSerializer.Serialize(preview, JsonSerializerOptions.Web),
            TargetType = scope.Change.Target.Type,

            // A thing the change creates has no id before it applies: the id it got in the rolled-back attempt names nothing.
            TargetId = scope.Change.Target.Id?.ToString(),
            TargetName = name is { Length: > 200 } ? name[..200] : name,
            MakerId = makerId,
            MakerUsername = maker,
            Reason = reason.Length > ChangeRequestReason.MaxLength ? reason[..ChangeRequestReason.MaxLength] : reason,
            CreatedAt = now,
            ExpiresAt = now.AddHours(policy.RequestLifetimeHours),
        };
        db.ChangeRequests.Add(request);
        var response = ChangeRequestResponse.Of(request);
        audit.Record(db, "change_request.created", "change_request", request.Id.ToString(), operation, new
        {
            operation,
            kind = response.Kind,
            target = response.Target,
            maker = response.Maker,
            reason = request.Reason,
            expiresAt = request.ExpiresAt,
            change = response.Preview,
        });
        await NotifyCheckersAsync(db, request, now, ct);
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
        return new Failure(FailureKind.Deferred, Code,
            $"The change needs a second person's approval ({operation}); it was sent for approval as change request {request.Id}.")
        {
            Extensions = new Dictionary<string, object?> { ["changeRequestId"] = request.Id, ["changeRequest"] = response },
        };
    }

    /// <summary>
    /// One mail to each user who could approve: active, holding APPROVE_CHANGES now (directly or through a group), not the
    /// maker, with a deliverable address. It names the change and links to the Approvals page; it holds no secret.
    /// </summary>
    private async Task NotifyCheckersAsync(TesseraDbContext db, ChangeRequest request, DateTime now, CancellationToken ct)
    {
        var roles = db.RolePrivileges.Where(p => p.Privilege == Privileges.ApproveChanges).Select(p => p.RoleId);
        var groups = db.GroupRoles.Where(g => roles.Contains(g.RoleId)).Select(g => g.GroupId);
        var candidates = await db.Users.AsNoTracking()
            .Where(u => u.Id != request.MakerId && u.Email != "")
            .Where(u => db.UserRoles.Any(r => r.UserId == u.Id && roles.Contains(r.RoleId)) || db.GroupMembers.Any(m => m.UserId == u.Id && groups.Contains(m.GroupId)))
            .Where(UserLifecycleQueries.MayActAt(now))
            .ToListAsync(ct);
        foreach (var user in candidates)
        {
            // The holding is judged as every decision judges it (validity included), not by the join above.
            if (!CredentialMail.Deliverable(user.Email) || !(await AccessLoader.LoadAsync(db, user.Id, now, ct)).Privileges.Contains(Privileges.ApproveChanges))
            {
                continue;
            }

            // In the checker's language and time zone (theirs, else the maker's Back Office language, else English).
            var language = outbox.LanguageFor(user);
            var values = CredentialMail.Person(user);
            values["maker"] = request.MakerUsername;
            values["operation"] = request.Operation;
            values["target"] = request.TargetName ?? request.TargetType;
            values["reason"] = request.Reason.Length == 0 ? language.NoneGiven : CredentialMail.OneLine(request.Reason);
            values["expiresAt"] = language.Time(request.ExpiresAt);
            values["link"] = tessera.Value.Link($"/admin/approvals?id={request.Id}");
            try
            {
                outbox.Enqueue(db, user.Email, MailTemplate, values, language);
            }
            catch (ArgumentException e)
            {
                // One stored address the mailer refuses holds up neither the request nor the other checkers' mail.
                logger.LogWarning(e, "The approval notice for change request {RequestId} could not be queued for user {UserId}.", request.Id, user.Id);
            }
        }
    }
}
