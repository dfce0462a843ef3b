using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>
/// The caller's own Back Office preferences: <c>language</c> (en, de, or null to follow the browser) and
/// <c>timeZone</c> (an IANA name, or null for UTC).
/// </summary>
public sealed record PreferencesRequest(string? Language, string? TimeZone);

public sealed record PreferencesResponse(string? Language, string? TimeZone);

/// <summary>
/// Reads and saves a user's own preferences. A change is validated by <see cref="UserPreferences"/>, audited as
/// <c>user.preferences_changed</c> with what changed, and clears the caller cache, so that the next page already
/// speaks the new language in the new time zone.
/// </summary>
public sealed class PreferencesService(TesseraDbContext db, AuditLog audit, CallerDirectory callers, TimeProvider clock)
{
    public async Task<Outcome<PreferencesResponse>> GetAsync(Guid userId, CancellationToken ct)
        => await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => new PreferencesResponse(u.Language, u.TimeZone)).SingleOrDefaultAsync(ct) is { } found
            ? Outcome<PreferencesResponse>.Ok(found)
            : Failure.NotFound("The caller no longer exists.");

    public async Task<Outcome<PreferencesResponse>> SetAsync(Guid userId, PreferencesRequest request, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (UserPreferences.LanguageProblem(request.Language) is { } language)
        {
            errors["language"] = [language];
        }

        if (UserPreferences.TimeZoneProblem(request.TimeZone) is { } zone)
        {
            errors["timeZone"] = [zone];
        }

        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == userId, ct);
        if (user is null)
        {
            return Failure.NotFound("The caller no longer exists.");
        }

        // Stored as the canonical value ("de", "Europe/Berlin"); UTC and a blank are both "no zone".
        var wantedLanguage = UserPreferences.Language(request.Language);
        var wantedZone = string.IsNullOrWhiteSpace(request.TimeZone) || request.TimeZone.Trim() == "UTC" ? null : request.TimeZone.Trim();
        var changes = new Dictionary<string, object>();
        if (user.Language != wantedLanguage)
        {
            changes["language"] = new { from = user.Language, to = wantedLanguage };
            user.Language = wantedLanguage;
        }

        if (user.TimeZone != wantedZone)
        {
            changes["timeZone"] = new { from = user.TimeZone, to = wantedZone };
            user.TimeZone = wantedZone;
        }

        if (changes.Count > 0)
        {
            user.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            audit.Record(db, "user.preferences_changed", "user", user.Id.ToString(), user.Username, changes);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            callers.Invalidate();
        }

        return Outcome<PreferencesResponse>.Ok(new PreferencesResponse(user.Language, user.TimeZone));
    }
}

public static class PreferencesEndpoints
{
    public static IEndpointRouteBuilder MapPreferences(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/me/preferences").WithTags("Sign-in");
        api.MapGet("", async (HttpContext http, PreferencesService preferences, CancellationToken ct) =>
            (await preferences.GetAsync(Caller(http), ct)).ToOk())
            .RequireCaller().WithSummary("The caller's Back Office preferences: language (en, de, or null for the browser's) and timeZone (an IANA name, or null for UTC).");
        api.MapPut("", async (PreferencesRequest request, HttpContext http, PreferencesService preferences, CancellationToken ct) =>
            (await preferences.SetAsync(Caller(http), request, ct)).ToOk())
            .RequireCaller().WithSummary("Sets the caller's language and time zone; 400 validation_failed names each refused member. Audited as user.preferences_changed.");
        return app;
    }

    private static Guid Caller(HttpContext http) => Guid.Parse(http.User.FindFirst(TesseraClaims.Subject)!.Value);
}
