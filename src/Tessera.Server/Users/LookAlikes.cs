using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>
/// Refuses a name that reads like one already in the directory: a role "Admіnistrator" (Cyrillic і) beside the
/// built-in Administrator, an email with a Cyrillic "а" beside the Latin one. Names compare by their confusable
/// skeleton (<see cref="Confusables"/>), stored beside each name under an index. Called in the apply step of a
/// change, next to the exact name-taken checks and after them, inside the directory transaction.
/// </summary>
public static class LookAlikes
{
    public const string Code = "confusable_with";

    /// <summary>The failure for a name that reads like <paramref name="existing"/>: 409 `confusable_with`, naming it.</summary>
    public static Failure Refusal(string field, string what, string value, string existing)
        => new(FailureKind.Conflict, Code, $"The {what} '{value.Trim()}' looks like the existing '{existing}'; choose one that reads differently.")
        {
            Extensions = new Dictionary<string, object?> { ["field"] = field, ["confusableWith"] = existing },
        };

    /// <summary>A username or email (either may be null: unchanged) that reads like another user's.</summary>
    public static async Task<Failure?> UserAsync(TesseraDbContext db, string? username, string? email, Guid? except, CancellationToken ct)
    {
        if (username is not null)
        {
            var skeleton = Skeletons.Of(username);
            var existing = await db.Users.Where(u => u.UsernameSkeleton == skeleton && u.Id != except).Select(u => u.Username).FirstOrDefaultAsync(ct);
            if (existing is not null)
            {
                return Refusal("username", "username", username, existing);
            }
        }

        if (email is not null)
        {
            var skeleton = Skeletons.Of(email);
            var existing = await db.Users.Where(u => u.EmailSkeleton == skeleton && u.Id != except).Select(u => u.Email).FirstOrDefaultAsync(ct);
            if (existing is not null)
            {
                return Refusal("email", "email address", email, existing);
            }
        }

        return null;
    }

    /// <summary>A role name that reads like another role's.</summary>
    public static async Task<Failure?> RoleAsync(TesseraDbContext db, string name, Guid? except, CancellationToken ct)
    {
        var skeleton = Skeletons.Of(name);
        var existing = await db.Roles.Where(r => r.NameSkeleton == skeleton && r.Id != except).Select(r => r.Name).FirstOrDefaultAsync(ct);
        return existing is null ? null : Refusal("name", "role name", name, existing);
    }

    /// <summary>A group name that reads like another group's.</summary>
    public static async Task<Failure?> GroupAsync(TesseraDbContext db, string name, Guid? except, CancellationToken ct)
    {
        var skeleton = Skeletons.Of(name);
        var existing = await db.Groups.Where(g => g.NameSkeleton == skeleton && g.Id != except).Select(g => g.Name).FirstOrDefaultAsync(ct);
        return existing is null ? null : Refusal("name", "group name", name, existing);
    }
}
