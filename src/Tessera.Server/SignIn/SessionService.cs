using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.Http;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.SignIn;

/// <summary>One open Back Office session, as the API and the Sessions cards show it.</summary>
public sealed record SessionResponse(Guid Id, DateTime CreatedAt, DateTime LastSeenAt, DateTime ExpiresAt, string? ClientAddress, string UserAgent,
    IReadOnlyList<string> Amr, bool Current);

/// <summary>
/// The use cases of stored Back Office sessions (<see cref="WebSessionStore"/>): list a user's open sessions, end one or
/// all of them (a directory change, judged by the delegation rules), the caller's own sessions, and sign-out.
/// The REST endpoints and the Back Office pages both call these.
/// </summary>
public sealed class SessionService(TesseraDbContext db, DirectoryPipeline pipeline, AuditLog audit, IOptions<SessionOptions> options, IHttpContextAccessor http, TimeProvider clock)
{
    public const string NotFoundCode = "session_not_found";

    /// <summary>The user's open sessions, newest first; not found when the user does not exist.</summary>
    public async Task<Outcome<IReadOnlyList<SessionResponse>>> ListAsync(Guid userId, CancellationToken ct)
    {
        if (!await db.Users.AnyAsync(u => u.Id == userId, ct))
        {
            return Failure.NotFound($"No user has the id {userId}.");
        }

        return Outcome<IReadOnlyList<SessionResponse>>.Ok(await OpenAsync(userId, ct));
    }

    /// <summary>The caller's own open sessions; the one of this request is marked <see cref="SessionResponse.Current"/>.</summary>
    public Task<IReadOnlyList<SessionResponse>> MineAsync(Guid userId, CancellationToken ct) => OpenAsync(userId, ct);

    /// <summary>
    /// Ends one session of the user (<paramref name="sessionId"/>), or all (null): at once, on every instance. Nobody ends
    /// the sessions of someone who outranks them (the account check of the delegation rules).
    /// </summary>
    public async Task<Failure?> EndAsync(Guid userId, Guid? sessionId, CancellationToken ct)
        => await pipeline.RunAsync(new EndSessions(pipeline.ActorId(), userId, sessionId), async scope =>
        {
            var found = await UserService.AccountAsync(scope, userId, AccountAction.Change, ct);
            if (!found.Succeeded)
            {
                return found.Failure;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var which = db.WebSessions.Where(s => s.UserId == userId).Open(now, Idle);
            if (sessionId is { } one)
            {
                which = which.Where(s => s.Id == one);
                if (!await which.AnyAsync(ct))
                {
                    return new Failure(FailureKind.NotFound, NotFoundCode, $"The user has no open session with the id {one}.");
                }
            }

            var ended = await WebSessionRecords.EndAsync(db, audit, which, SessionEndReasons.Revoked, now, ct);
            if (ended == 0)
            {
                scope.NothingChanged();
                return null;
            }

            scope.Target = scope.Target with { Name = found.Value!.Username };
            scope.Audit(new { session = sessionId, ended });
            return null;
        }, ct);

    /// <summary>"Sign out my other sessions": every open session of the caller but the current one.</summary>
    public async Task<int> EndOthersAsync(Guid userId, Guid? currentSessionId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var others = db.WebSessions.Where(s => s.UserId == userId && s.Id != currentSessionId).Open(now, Idle);
        var ended = await WebSessionRecords.EndAsync(db, audit, others, SessionEndReasons.SignOutOthers, now, ct);
        await db.SaveChangesAsync(ct);
        return ended;
    }

    /// <summary>Sign-out: the stored session ends (reason `signout`), then the cookie goes; a copy of the cookie opens nothing after this.</summary>
    public async Task SignOutAsync(HttpContext context)
    {
        if (context.User.Identity?.IsAuthenticated == true)
        {
            var actor = audit.CurrentActor();
            audit.Record(db, "signout", "user", actor.Id?.ToString(), actor.Name);
            await db.SaveChangesAsync(context.RequestAborted);
        }

        context.Items[WebSessionStore.EndReasonItem] = SessionEndReasons.SignOut;
        await context.SignOutAsync(WebSessions.Scheme);

        // A sign-in halfway through (owing a second factor or an enrolment) ends too.
        await context.SignOutAsync(WebSessions.PendingScheme);
    }

    private TimeSpan Idle => TimeSpan.FromMinutes(options.Value.IdleMinutes);

    private async Task<IReadOnlyList<SessionResponse>> OpenAsync(Guid userId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var current = http.HttpContext is { } context ? WebSessions.SessionIdOf(context.User) : null;
        var records = await db.WebSessions.AsNoTracking().Where(s => s.UserId == userId).Open(now, Idle)
            .OrderByDescending(s => s.CreatedAt).ThenBy(s => s.Id).Take(200).ToListAsync(ct);
        return [.. records.Select(s => new SessionResponse(s.Id, Utc(s.CreatedAt), Utc(s.LastSeenAt), Utc(s.ExpiresAt), s.ClientAddress, s.UserAgent,
            WebSessionRecords.SplitAmr(s.Amr), s.Id == current))];
    }

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
}

public static class SessionEndpoints
{
    public static IEndpointRouteBuilder MapSessions(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Sessions");

        api.MapGet("/users/{id:guid}/sessions", async (Guid id, SessionService sessions, CancellationToken ct) => (await sessions.ListAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers)
            .WithSummary("The user's open Back Office sessions: id, createdAt, lastSeenAt, expiresAt, clientAddress, userAgent, amr.");
        api.MapDelete("/users/{id:guid}/sessions/{sessionId:guid}", async (Guid id, Guid sessionId, SessionService sessions, CancellationToken ct) =>
            (await sessions.EndAsync(id, sessionId, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated()
            .WithSummary("Ends one Back Office session of the user at once (404 `session_not_found` when it is not open).");
        api.MapDelete("/users/{id:guid}/sessions", async (Guid id, SessionService sessions, CancellationToken ct) =>
            (await sessions.EndAsync(id, null, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated()
            .WithSummary("Ends every Back Office session of the user at once (their API tokens stay; see revoke-tokens).");
        api.MapGet("/me/sessions", async (HttpContext http, SessionService sessions, CancellationToken ct) =>
            Results.Ok(await sessions.MineAsync(Guid.Parse(http.User.FindFirst(TesseraClaims.Subject)!.Value), ct)))
            .RequireCaller().WithSummary("The caller's own open Back Office sessions.");
        return app;
    }
}
