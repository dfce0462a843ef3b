using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Server.Audit;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>Why a stored session ended, as `session.ended` audit events and the record say.</summary>
public static class SessionEndReasons
{
    public const string SignOut = "signout";
    public const string SignOutOthers = "signout_others";
    public const string Revoked = "revoked";
    public const string Idle = "idle";
    public const string Expired = "expired";
    public const string PasswordChanged = "password_changed";
    public const string PasswordReset = "password_reset";
    public const string Disabled = "disabled";
    public const string UserDeleted = "user_deleted";

    /// <summary>The user's security stamp changed for another reason (credential mode, tokens revoked by a later change...).</summary>
    public const string CredentialsChanged = "credentials_changed";

    /// <summary>A new sign-in in the same browser replaced the session (e.g. the profile page after a password change).</summary>
    public const string Replaced = "replaced";
}

/// <summary>
/// The cookie handler's <see cref="ITicketStore"/> for <see cref="WebSessions.Scheme"/>: the cookie carries only the
/// protected id of a <see cref="WebSession"/> record, and every request rebuilds the session from that record. So a
/// session ended anywhere (sign-out, an administrator, another instance) is refused at once, and a copied cookie is
/// worth nothing after sign-out. Each call uses a scope of its own, so that the request's unit of work is never
/// saved by the authentication as a side effect.
/// </summary>
public sealed class WebSessionStore(IServiceScopeFactory scopes, TimeProvider clock, IOptions<SessionOptions> options) : ITicketStore
{
    /// <summary>An <see cref="HttpContext.Items"/> key: why the session the cookie handler removes in this request ends.</summary>
    public const string EndReasonItem = "tessera.session_end_reason";

    public const int MaxUserAgentLength = 256;

    /// <summary>Ended and expired records are kept this long (for the Sessions cards' history and investigations), then deleted.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(30);

    // The last-seen time is written at most this often: a read per request is cheap, a write per request is not.
    private static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);
    private long _nextPurgeTicks;

    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreAsync(ticket, CancellationToken.None);

    public Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken) => StoreAsync(ticket, null!, cancellationToken);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken)
    {
        var principal = ticket.Principal;
        var now = clock.GetUtcNow().UtcDateTime;
        var agent = httpContext?.Request.Headers.UserAgent.ToString() ?? "";
        var record = new WebSession
        {
            UserId = Guid.Parse(principal.FindFirstValue(TesseraClaims.Subject)!),
            StampDigest = principal.FindFirstValue(TesseraClaims.Stamp) ?? "",
            CreatedAt = now,
            LastSeenAt = now,
            ExpiresAt = now + TimeSpan.FromHours(options.Value.AbsoluteHours),
            ClientAddress = httpContext?.Connection.RemoteIpAddress?.ToString(),
            UserAgent = agent.Length > MaxUserAgentLength ? agent[..MaxUserAgentLength] : agent,
            Amr = WebSessionRecords.JoinAmr(principal.FindAll(TesseraClaims.Amr).Select(c => c.Value)),
            SecondFactorAt = ParseTime(principal.FindFirstValue(TesseraClaims.SecondFactorAt)),
        };

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        db.WebSessions.Add(record);
        await db.SaveChangesAsync(cancellationToken);
        await PurgeIfDueAsync(db, now, cancellationToken);
        return record.Id.ToString();
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => RenewAsync(key, ticket, CancellationToken.None);

    public Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken) => RenewAsync(key, ticket, null!, cancellationToken);

    /// <summary>
    /// The cookie handler calls this in two cases. A refresh of a ticket this store rebuilt (it carries the record's
    /// `sid`): only the last-seen time moves. A new sign-in in a browser whose session is still open (the profile page
    /// after a password change, a second sign-in): the handler would keep the old key, so any copy of the old cookie
    /// would follow into the new session. Instead the old record ends here, and <see cref="WebSessions"/> issues the
    /// new sign-in under a new record and key once the handler is done (<see cref="ReissueItem"/>).
    /// </summary>
    public async Task RenewAsync(string key, AuthenticationTicket ticket, HttpContext httpContext, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(key, out var id))
        {
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        if (ticket.Principal.FindFirstValue(TesseraClaims.SessionId) == key || httpContext is null)
        {
            await db.WebSessions.Where(s => s.Id == id && s.EndedAt == null).ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, now), cancellationToken);
            return;
        }

        var reason = httpContext.Items[EndReasonItem] as string ?? SessionEndReasons.Replaced;
        if (await WebSessionRecords.EndAsync(db, scope.ServiceProvider.GetRequiredService<AuditLog>(), db.WebSessions.Where(s => s.Id == id), reason, now, cancellationToken) > 0)
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        httpContext.Items[ReissueItem] = ticket;
    }

    /// <summary>An <see cref="HttpContext.Items"/> key: a sign-in to issue under a new record once the cookie handler has finished (see <see cref="RenewAsync(string, AuthenticationTicket, HttpContext, CancellationToken)"/>).</summary>
    public const string ReissueItem = "tessera.session_reissue";

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveAsync(key, CancellationToken.None);

    public Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken) => RetrieveAsync(key, null!, cancellationToken);

    /// <summary>
    /// The session of the record, or null when there is none to continue: unknown, ended, idle past
    /// `Tessera:Sessions:IdleMinutes` or past its absolute end (those two are ended here, with their reason).
    /// </summary>
    public async Task<AuthenticationTicket?> RetrieveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(key, out var id))
        {
            return null;
        }

        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var db = services.GetRequiredService<TesseraDbContext>();
        var record = await db.WebSessions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (record is null || record.EndedAt is not null)
        {
            return null;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var idle = TimeSpan.FromMinutes(options.Value.IdleMinutes);
        var ending = now >= record.ExpiresAt ? SessionEndReasons.Expired : now - record.LastSeenAt >= idle ? SessionEndReasons.Idle : null;
        if (ending is not null)
        {
            await WebSessionRecords.EndAsync(db, services.GetRequiredService<AuditLog>(), db.WebSessions.Where(s => s.Id == id), ending, now, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }

        var caller = await services.GetRequiredService<CallerDirectory>().GetAsync(record.UserId, cancellationToken);
        if (caller is null)
        {
            return null;
        }

        if (now - record.LastSeenAt >= TouchInterval)
        {
            await db.WebSessions.Where(s => s.Id == id && s.EndedAt == null).ExecuteUpdateAsync(s => s.SetProperty(x => x.LastSeenAt, now), cancellationToken);
            record.LastSeenAt = now;
        }

        var end = record.LastSeenAt + idle < record.ExpiresAt ? record.LastSeenAt + idle : record.ExpiresAt;
        var principal = WebSessions.Principal(record, caller.Username);

        // The cookie itself never needs re-issuing: it only names the record, which keeps the times.
        return new AuthenticationTicket(principal, new AuthenticationProperties
        {
            IssuedUtc = record.CreatedAt,
            ExpiresUtc = end,
            AllowRefresh = false,
        }, WebSessions.Scheme);
    }

    public Task RemoveAsync(string key) => RemoveAsync(key, CancellationToken.None);

    public Task RemoveAsync(string key, CancellationToken cancellationToken) => RemoveAsync(key, null!, cancellationToken);

    /// <summary>The cookie handler removes a session at sign-out, or when a new sign-in replaces it: the record ends, it is not deleted.</summary>
    public async Task RemoveAsync(string key, HttpContext httpContext, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(key, out var id))
        {
            return;
        }

        var reason = httpContext?.Items[EndReasonItem] as string ?? SessionEndReasons.Replaced;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        if (await WebSessionRecords.EndAsync(db, scope.ServiceProvider.GetRequiredService<AuditLog>(), db.WebSessions.Where(s => s.Id == id), reason, clock.GetUtcNow().UtcDateTime, cancellationToken) > 0)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Deletes records ended (or expired) more than <see cref="Retention"/> ago, at most once an hour per instance and
    /// only on a sign-in, so that the table stays small without a timer of its own. One indexed delete per hour is cheap;
    /// two instances purging at once delete the same rows, which is harmless.
    /// </summary>
    private async Task PurgeIfDueAsync(TesseraDbContext db, DateTime now, CancellationToken ct)
    {
        var next = Interlocked.Read(ref _nextPurgeTicks);
        if (now.Ticks < next || Interlocked.CompareExchange(ref _nextPurgeTicks, (now + PurgeInterval).Ticks, next) != next)
        {
            return;
        }

        var before = now - Retention;
        await db.WebSessions.Where(s => s.EndedAt < before || s.ExpiresAt < before).ExecuteDeleteAsync(ct);
    }

    internal static DateTime? ParseTime(string? value)
        => DateTime.TryParse(value, null, System.Globalization.DateTimeStyles.RoundtripKind, out var at) ? at.ToUniversalTime() : null;
}

/// <summary>Ending stored sessions: one way, used by sign-out, administrators, credential changes and expiry.</summary>
public static class WebSessionRecords
{
    public const string AuditAction = "session.ended";

    public static string JoinAmr(IEnumerable<string> amr) => string.Join(' ', amr.Where(m => m.Length > 0).Distinct(StringComparer.Ordinal));

    public static IReadOnlyList<string> SplitAmr(string amr) => amr.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// The sessions a user may still be using: not ended, before their absolute end, used within the idle time.
    /// (One whose stamp is outdated is refused on its next request and ended then.)
    /// </summary>
    public static IQueryable<WebSession> Open(this IQueryable<WebSession> sessions, DateTime now, TimeSpan idle)
    {
        var seenSince = now - idle;
        return sessions.Where(s => s.EndedAt == null && s.ExpiresAt > now && s.LastSeenAt > seenSince);
    }

    /// <summary>
    /// Ends the open records among <paramref name="which"/> with <paramref name="reason"/>, and adds one `session.ended`
    /// audit event per record to <paramref name="db"/>'s unit of work (the caller saves it, in its transaction if it has one).
    /// Returns how many it ended.
    /// </summary>
    public static async Task<int> EndAsync(TesseraDbContext db, AuditLog audit, IQueryable<WebSession> which, string reason, DateTime now, CancellationToken ct)
    {
        var open = await which.Where(s => s.EndedAt == null).Select(s => new { s.Id, s.UserId }).ToListAsync(ct);
        if (open.Count == 0)
        {
            return 0;
        }

        var ids = open.Select(s => s.Id).ToList();
        var ended = await db.WebSessions.Where(s => ids.Contains(s.Id) && s.EndedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.EndedAt, now).SetProperty(x => x.EndReason, reason), ct);
        if (ended == 0)
        {
            // Another request ended them meanwhile, and audited that.
            return 0;
        }

        foreach (var session in open)
        {
            audit.Record(db, AuditAction, "user", session.UserId.ToString(), null, new { session = session.Id, reason });
        }

        return ended;
    }

    /// <summary>Ends every open session of a user (their credentials or standing changed).</summary>
    public static Task<int> EndAllOfUserAsync(TesseraDbContext db, AuditLog audit, Guid userId, string reason, DateTime now, CancellationToken ct)
        => EndAsync(db, audit, db.WebSessions.Where(s => s.UserId == userId), reason, now, ct);

    /// <summary>
    /// For <see cref="Changes.DirectoryPipeline"/>: a change that gave users a new security stamp, or deleted them, ends
    /// their stored sessions in the same transaction, so the Sessions cards and the audit log say so at once (the stamp
    /// check alone would refuse the cookie only on its next use).
    /// </summary>
    public static async Task EndForCredentialChangesAsync(TesseraDbContext db, AuditLog audit, Changes.DirectoryChange change, DateTime now, CancellationToken ct)
    {
        var users = db.ChangeTracker.Entries<User>()
            .Where(e => e.State == EntityState.Deleted || (e.State == EntityState.Modified && e.Property(u => u.SecurityStamp).IsModified))
            .Select(e => (e.Entity.Id, Reason: e.State == EntityState.Deleted ? SessionEndReasons.UserDeleted
                : e.Entity.Status == Core.Users.UserStatus.Disabled ? SessionEndReasons.Disabled
                : change switch
                {
                    Changes.RevokeTokens => SessionEndReasons.Revoked,
                    Changes.SetPassword => SessionEndReasons.PasswordChanged,
                    _ => SessionEndReasons.CredentialsChanged,
                }))
            .ToList();
        foreach (var (id, reason) in users)
        {
            await EndAllOfUserAsync(db, audit, id, reason, now, ct);
        }
    }
}
