using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Server.Changes;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Mfa;

/// <summary>The MFA policy, kept as one setting like the password policy; the default until someone changes it.</summary>
public sealed class MfaPolicyService(TesseraDbContext db, DirectoryPipeline pipeline, TimeProvider clock)
{
    public const string Key = "mfa_policy";

    public static async Task<MfaPolicy> GetAsync(TesseraDbContext db, CancellationToken ct)
    {
        var stored = await db.Settings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == Key, ct);
        return stored is null ? MfaPolicy.Default : JsonSerializer.Deserialize<MfaPolicy>(stored.Value, JsonSerializerOptions.Web) ?? MfaPolicy.Default;
    }

    public Task<MfaPolicy> PolicyAsync(CancellationToken ct) => GetAsync(db, ct);

    /// <summary>
    /// Replaces the policy, as a directory change: who needs a second factor is as much a part of who may do what as
    /// a role is, so it is audited (`mfa_policy.changed`, before and after) and committed like one. Role names are
    /// stored as the roles spell them.
    /// </summary>
    public async Task<Outcome<MfaPolicy>> SetAsync(MfaPolicy? policy, CancellationToken ct)
    {
        if (policy is null)
        {
            return Failure.Invalid("invalid_mfa_policy", "The body must be an MFA policy: required, requiredRoles, stepUpMinutes, trustProviderMfa.");
        }

        var errors = policy.Validate();
        if (errors.Count > 0)
        {
            return Failure.Invalid("invalid_mfa_policy", string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")), errors);
        }

        var saved = policy;
        return await pipeline.RunAsync(new SetMfaPolicy(pipeline.ActorId(), policy), async scope =>
        {
            var roles = await DirectoryGuard.ResolveRolesAsync(scope.Db, policy.RequiredRoles, ct);
            if (!roles.Succeeded)
            {
                // Bad input, not a conflict with the directory's state: a name that names nothing.
                return Failure.Invalid("unknown_role", roles.Failure!.Detail,
                    new Dictionary<string, string[]> { ["requiredRoles"] = [roles.Failure.Detail] });
            }

            saved = policy with { RequiredRoles = [.. roles.Value!.Select(r => r.Name).Order(StringComparer.Ordinal)] };
            var before = await GetAsync(scope.Db, ct);
            var json = JsonSerializer.Serialize(saved, JsonSerializerOptions.Web);
            if (json == JsonSerializer.Serialize(before, JsonSerializerOptions.Web))
            {
                scope.NothingChanged();
                return null;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var stored = await scope.Db.Settings.SingleOrDefaultAsync(s => s.Key == Key, ct);
            if (stored is null)
            {
                scope.Db.Settings.Add(new Setting { Key = Key, Value = json, UpdatedAt = now });
            }
            else
            {
                stored.Value = json;
                stored.UpdatedAt = now;
            }

            scope.Audit(new { before, after = saved });
            return null;
        }, _ => Task.FromResult(saved), ct);
    }
}
