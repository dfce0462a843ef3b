using Microsoft.EntityFrameworkCore;

namespace Tessera.Server.Storage;

/// <summary>
/// Fills the confusable skeletons of rows written before the skeleton columns existed. SQL cannot compute a
/// skeleton (it needs Unicode's confusables data), so the migration adds the columns empty and the start fills
/// them here, in batches. Once every row has its skeleton this costs three indexed look-ups per start. Instances
/// that start together compute the same values, so running twice is harmless.
/// </summary>
public static class SkeletonBackfill
{
    private const int BatchSize = 500;

    /// <summary>How many rows were filled.</summary>
    public static async Task<int> RunAsync(TesseraDbContext db, CancellationToken ct)
    {
        var filled = 0;
        while (true)
        {
            var users = await db.Users.Where(u => u.UsernameSkeleton == "" || u.EmailSkeleton == "").OrderBy(u => u.Id).Take(BatchSize).ToListAsync(ct);
            foreach (var user in users)
            {
                user.UsernameSkeleton = Skeletons.Of(user.Username);
                user.EmailSkeleton = Skeletons.Of(user.Email);
            }

            var roles = await db.Roles.Where(r => r.NameSkeleton == "").OrderBy(r => r.Id).Take(BatchSize).ToListAsync(ct);
            foreach (var role in roles)
            {
                role.NameSkeleton = Skeletons.Of(role.Name);
            }

            var groups = await db.Groups.Where(g => g.NameSkeleton == "").OrderBy(g => g.Id).Take(BatchSize).ToListAsync(ct);
            foreach (var group in groups)
            {
                group.NameSkeleton = Skeletons.Of(group.Name);
            }

            var count = users.Count + roles.Count + groups.Count;
            if (count == 0)
            {
                return filled;
            }

            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
            filled += count;
        }
    }
}
