using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>
/// The predicates of <see cref="AccountStanding"/>, as expressions that EF Core translates to SQL, so that a
/// query selects exactly the users the rule names. UserLifecycleQueryTests checks this on both providers for
/// every status and lock end; change the two together.
/// </summary>
/// <remarks>
/// <c>now</c> is captured, so it reaches the database as a parameter and the query's plan is cached once.
/// A missing <see cref="User.LockedUntil"/> compares as in C#: <c>null &lt;= now</c> is false.
/// </remarks>
public static class UserLifecycleQueries
{
    /// <summary><see cref="AccountStanding.IsLockedAt"/>: Locked, and the lock has no end or ends after <paramref name="now"/>.</summary>
    public static Expression<Func<User, bool>> LockedAt(DateTime now)
        => u => u.Status == UserStatus.Locked && (u.LockedUntil == null || u.LockedUntil > now);

    /// <summary><see cref="AccountStanding.MayActAt"/>: Active, or Locked with a lock that ended by <paramref name="now"/>.</summary>
    public static Expression<Func<User, bool>> MayActAt(DateTime now)
        => u => u.Status == UserStatus.Active || (u.Status == UserStatus.Locked && u.LockedUntil <= now);

    /// <summary><c>EffectiveStatus(now) == status</c> (see <see cref="AccountStanding.EffectiveStatus"/>): a lock that ended reads Active.</summary>
    public static Expression<Func<User, bool>> EffectiveStatusIs(UserStatus status, DateTime now) => status switch
    {
        UserStatus.Active => MayActAt(now),
        UserStatus.Locked => LockedAt(now),
        _ => u => u.Status == status,
    };

    /// <summary>
    /// Locks the user in one conditional UPDATE, as <see cref="AccountStanding.SignInFailed"/> does once the threshold
    /// is reached: only when the user may act at <paramref name="now"/>, so that of two failures reaching the threshold
    /// together only the first locks, and a user disabled meanwhile is not turned into a lock that later ends as Active.
    /// The stamp is renewed, which ends the user's sessions and tokens. True when this call locked the user.
    /// </summary>
    public static async Task<bool> TryLockAsync(this DbSet<User> users, Guid id, DateTime now, DateTime until, CancellationToken ct)
        => await users.Where(u => u.Id == id).Where(MayActAt(now))
            .ExecuteUpdateAsync(s => s
                .SetProperty(u => u.Status, UserStatus.Locked)
                .SetProperty(u => u.LockedUntil, until)
                .SetProperty(u => u.FailedSignInCount, 0)
                .SetProperty(u => u.SecurityStamp, User.NewStamp()), ct) == 1;
}
