using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Credentials;
using Tessera.Server.Governance;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>POST /api/v1/users/bulk: one action over up to 200 users; <c>role</c> names the role of add_role and remove_role.</summary>
public sealed record BulkUsersRequest([Required] string? Action, [Required] List<Guid>? UserIds, string? Role);

/// <summary>
/// One user's outcome: done, unchanged, sent_for_approval (four-eyes: a change request waits) or failed, with the
/// failure's code and message (for sent_for_approval, code approval_required).
/// </summary>
public sealed record BulkUserResult(Guid UserId, string? Username, string Outcome, string? Code, string? Detail);

public sealed record BulkUsersResponse(IReadOnlyList<BulkUserResult> Results);

/// <summary>
/// Bulk work on users: the action is run for each user as that user's own directory change, through the same use case
/// as the single change (so delegation, dominance, self-lockout, the System role, separation of duties, the last
/// administrator and four-eyes approval are judged per user). One refused row never stops the others; the answer lists
/// every user in request order. Only malformed input (no rows, too many, duplicates, an unknown action or role) is
/// refused whole, before anything changes.
/// </summary>
public sealed class BulkUserActions(TesseraDbContext db, UserService users, CredentialService credentials)
{
    public const int MaxUsers = 200;

    public const string Done = "done";
    public const string Unchanged = "unchanged";
    public const string SentForApproval = "sent_for_approval";
    public const string Failed = "failed";

    /// <summary>The actions, in the order the Back Office offers them.</summary>
    public static readonly IReadOnlyList<string> Actions = ["enable", "disable", "add_role", "remove_role", "resend_invitation", "delete"];

    /// <summary>Resending an invitation to a user who is not invited (active, locked, disabled) would reset a working password.</summary>
    public const string NotInvitedCode = "not_invited";

    public async Task<Outcome<BulkUsersResponse>> RunAsync(BulkUsersRequest request, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var action = request.Action?.Trim().ToLowerInvariant();
        if (action is null || !Actions.Contains(action))
        {
            errors["action"] = [$"action must be one of {string.Join(", ", Actions)}."];
        }

        var ids = request.UserIds ?? [];
        if (ids.Count is < 1 or > MaxUsers)
        {
            errors["userIds"] = [$"userIds must list 1 to {MaxUsers} users."];
        }
        else if (ids.Distinct().Count() != ids.Count)
        {
            errors["userIds"] = ["userIds must not list a user twice."];
        }

        var roleAction = action is "add_role" or "remove_role";
        string? role = null;
        if (roleAction)
        {
            if (string.IsNullOrWhiteSpace(request.Role))
            {
                errors["role"] = ["role is required for add_role and remove_role."];
            }
            else
            {
                var normalized = request.Role.Trim().ToUpperInvariant();
                role = await db.Roles.AsNoTracking().Where(r => r.NormalizedName == normalized).Select(r => r.Name).SingleOrDefaultAsync(ct);
                if (role is null)
                {
                    errors["role"] = [$"No role is named '{request.Role.Trim()}'."];
                }
            }
        }
        else if (request.Role is not null && action is not null && Actions.Contains(action))
        {
            errors["role"] = ["role is only for add_role and remove_role."];
        }

        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        var results = new List<BulkUserResult>(ids.Count);
        foreach (var id in ids)
        {
            // Each row starts from the store as it is now, not from what the previous row left tracked.
            db.ChangeTracker.Clear();
            results.Add(await RunOneAsync(action!, id, role, ct));
        }

        db.ChangeTracker.Clear();
        return Outcome<BulkUsersResponse>.Ok(new BulkUsersResponse(results));
    }

    private async Task<BulkUserResult> RunOneAsync(string action, Guid id, string? role, CancellationToken ct)
    {
        var before = (await users.GetAsync(id, ct)).Value;
        if (before is null)
        {
            return new BulkUserResult(id, null, Failed, "not_found", $"No user has the id {id}.");
        }

        Failure? failure;
        bool changed;
        switch (action)
        {
            case "enable" or "disable":
            {
                var updated = await users.UpdateAsync(id, new UpdateUserRequest(null, null, null, null, action == "enable" ? "active" : "disabled", null, null), ct);
                failure = updated.Failure;
                changed = updated.Value is { } after && after.Status != before.Status;
                break;
            }

            case "add_role" or "remove_role":
            {
                var held = before.RoleAssignments.Any(a => string.Equals(a.Name, role, StringComparison.OrdinalIgnoreCase));
                // The other grants are sent back exactly as stored (validity included); only the one role comes or goes.
                List<RoleAssignment> wanted = [.. before.RoleAssignments
                    .Where(a => action == "add_role" || !string.Equals(a.Name, role, StringComparison.OrdinalIgnoreCase))
                    .Select(a => new RoleAssignment(a.Name, a.ValidFrom, a.ValidUntil))];
                if (action == "add_role" && !held)
                {
                    wanted.Add(new RoleAssignment(role!, null, null));
                }

                var outcome = await users.ChangeRolesAsync(id, new ChangeRolesRequest(wanted), ct);
                failure = outcome.Failure;
                changed = action == "add_role" ? !held : held;
                break;
            }

            case "resend_invitation":
                failure = before.Type != UserType.BackOffice.ToWire()
                    ? Failure.Conflict("api_user", "API users get no invitation; they authenticate with their credentials.")
                    : before.Status != UserStatus.Invited.ToWire()
                        ? Failure.Conflict(NotInvitedCode, $"{before.Username} is {before.Status}, not invited: only an invited user gets the invitation again.")
                        : await credentials.SendInvitationAsync(id, ct);
                changed = true;
                break;

            default:
                failure = await users.DeleteAsync(id, ct);
                changed = true;
                break;
        }

        return failure switch
        {
            null => new BulkUserResult(id, before.Username, changed ? Done : Unchanged, null, null),
            { Kind: FailureKind.Deferred } => new BulkUserResult(id, before.Username, SentForApproval, failure.Code, failure.Detail),
            _ => new BulkUserResult(id, before.Username, Failed, failure.Code, failure.Detail),
        };
    }
}
