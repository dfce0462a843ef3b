using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Governance;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>A counted figure: exact up to <see cref="DirectoryOverview.CountCap"/>; above it <c>exact</c> is false and the count is the cap ("more than 10,000").</summary>
public sealed record Figure(int Count, bool Exact);

/// <summary>Users by their status now (a lock that ended counts as active, as in the users list).</summary>
public sealed record UserCounts(Figure Invited, Figure Active, Figure Locked, Figure Disabled);

/// <summary>
/// What GET /api/v1/overview and the dashboard show: each part only to a caller whose privileges allow it, else null
/// (users and expiring access: VIEW_USERS; pending approvals: APPROVE_CHANGES; latest events: VIEW_AUDIT_LOG).
/// </summary>
public sealed record OverviewResponse(UserCounts? Users, Figure? ExpiringAccess, int ExpiringWithinDays, Figure? PendingApprovals, IReadOnlyList<AuditEventResponse>? LatestEvents);

/// <summary>
/// The dashboard's figures. Each count stops at <see cref="CountCap"/> + 1 rows, so that it costs at most that many index
/// entries at a million users: users by status read the index of (type, status) (the type is named, both values, so that
/// the index's leading column is bound); expiring access reads the indexes of the grants' and memberships' ends.
/// </summary>
public sealed class DirectoryOverview(TesseraDbContext db, ChangeRequestService requests, AuditQuery audit, TimeProvider clock)
{
    public const int CountCap = 10_000;
    public const int ExpiringDays = 14;
    public const int LatestEvents = 10;

    public async Task<OverviewResponse> ForAsync(CallerState caller, CancellationToken ct)
    {
        var held = caller.Privileges;
        var now = clock.GetUtcNow().UtcDateTime;
        UserCounts? users = null;
        Figure? expiring = null;
        if (held.Contains(Privileges.ViewUsers))
        {
            users = new UserCounts(
                await UsersAsync(UserStatus.Invited, now, ct),
                await UsersAsync(UserStatus.Active, now, ct),
                await UsersAsync(UserStatus.Locked, now, ct),
                await UsersAsync(UserStatus.Disabled, now, ct));
            expiring = await ExpiringAsync(now, ct);
        }

        Figure? pending = held.Contains(Privileges.ApproveChanges) ? Exact(await requests.PendingCountAsync(ct)) : null;
        IReadOnlyList<AuditEventResponse>? events = held.Contains(Privileges.ViewAuditLog)
            ? [.. (await audit.PageAsync(new AuditFilter(), LatestEvents, null, ct)).Events.Select(AuditQuery.ToResponse)]
            : null;
        return new OverviewResponse(users, expiring, ExpiringDays, pending, events);
    }

    private async Task<Figure> UsersAsync(UserStatus status, DateTime now, CancellationToken ct)
    {
        var count = await db.Users.AsNoTracking()
            .Where(u => u.Type == UserType.BackOffice || u.Type == UserType.Api)
            .Where(UserLifecycleQueries.EffectiveStatusIs(status, now))
            .Take(CountCap + 1).CountAsync(ct);
        return Capped(count);
    }

    /// <summary>The users the list's <c>expiring=14</c> shows: a grant or membership that ends within the window and has not ended.</summary>
    private async Task<Figure> ExpiringAsync(DateTime now, CancellationToken ct)
    {
        var horizon = now.AddDays(ExpiringDays);
        var ids = db.UserRoles.Where(r => r.ValidUntil > now && r.ValidUntil <= horizon).Select(r => r.UserId)
            .Union(db.GroupMembers.Where(m => m.ValidUntil > now && m.ValidUntil <= horizon).Select(m => m.UserId));
        return Capped(await ids.Take(CountCap + 1).CountAsync(ct));
    }

    private static Figure Capped(int count) => count > CountCap ? new Figure(CountCap, false) : Exact(count);

    private static Figure Exact(int count) => new(count, true);
}

public static class OverviewEndpoints
{
    public static IEndpointRouteBuilder MapOverview(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/overview", async (HttpContext http, CallerDirectory callers, DirectoryOverview overview, CancellationToken ct) =>
        {
            var caller = await callers.GetAsync(Guid.Parse(http.User.FindFirst(TesseraClaims.Subject)!.Value), ct);
            return caller is null
                ? Http.Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "The caller no longer exists.")
                : Results.Ok(await overview.ForAsync(caller, ct));
        }).RequireCaller().WithTags("Users")
          .WithSummary("The dashboard's figures, each only for a caller who may see it (else null): users by status and users whose access ends within 14 days (VIEW_USERS), pending approvals (APPROVE_CHANGES), the latest audit events (VIEW_AUDIT_LOG). Counts are exact up to 10,000; above, exact is false.");
        return app;
    }
}
