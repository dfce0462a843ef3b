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
/// The dashboard's figures. Each user figure is the users list's capped total under the filter its link opens, so it
/// costs what that total costs (at most <see cref="CountCap"/> + 1 index entries at a million users) and always agrees
/// with the list a click shows.
/// </summary>
public sealed class DirectoryOverview(UserSearch search, ChangeRequestService requests, AuditQuery audit)
{
    public const int CountCap = UserSearch.TotalCap;
    public const int ExpiringDays = 14;
    public const int LatestEvents = 10;

    public async Task<OverviewResponse> ForAsync(CallerState caller, CancellationToken ct)
    {
        var held = caller.Privileges;
        UserCounts? users = null;
        Figure? expiring = null;
        if (held.Contains(Privileges.ViewUsers))
        {
            users = new UserCounts(
                await UsersAsync(UserStatus.Invited, ct),
                await UsersAsync(UserStatus.Active, ct),
                await UsersAsync(UserStatus.Locked, ct),
                await UsersAsync(UserStatus.Disabled, ct));
            expiring = await ExpiringAsync(ct);
        }

        Figure? pending = held.Contains(Privileges.ApproveChanges) ? Exact(await requests.PendingCountAsync(ct)) : null;
        IReadOnlyList<AuditEventResponse>? events = held.Contains(Privileges.ViewAuditLog)
            ? [.. (await audit.PageAsync(new AuditFilter(), LatestEvents, null, ct)).Events.Select(AuditQuery.ToResponse)]
            : null;
        return new OverviewResponse(users, expiring, ExpiringDays, pending, events);
    }

    private Task<Figure> UsersAsync(UserStatus status, CancellationToken ct)
        => ListTotalAsync(new UserQuery(Status: status.ToString().ToLowerInvariant()), ct);

    /// <summary>The users the list's <c>expiring=14</c> shows: a grant or membership that ends within the window and has not ended.</summary>
    private Task<Figure> ExpiringAsync(CancellationToken ct)
        => ListTotalAsync(new UserQuery(Expiring: ExpiringDays.ToString(System.Globalization.CultureInfo.InvariantCulture)), ct);

    /// <summary>
    /// A figure is the total of the users list under the filter its link opens (UserSearch, capped at
    /// <see cref="CountCap"/>), so that the dashboard and the list it links to cannot disagree.
    /// </summary>
    private async Task<Figure> ListTotalAsync(UserQuery query, CancellationToken ct)
    {
        var page = await search.SearchAsync(query with { Limit = 1, IncludeTotal = true }, ct);
        var found = page.Value ?? throw new InvalidOperationException($"The dashboard's own filter was refused: {page.Failure?.Detail}");
        return new Figure(found.Total ?? 0, found.TotalExact ?? true);
    }

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
