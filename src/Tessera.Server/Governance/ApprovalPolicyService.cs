using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Changes;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>The approval policy as stored: one setting, the default (nothing under approval) until someone sets it.</summary>
public static class ApprovalPolicyStore
{
    public const string Key = "approval_policy";

    public static async Task<ApprovalPolicy> GetAsync(TesseraDbContext db, CancellationToken ct)
    {
        var stored = await db.Settings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == Key, ct);
        return stored is null
            ? ApprovalPolicy.Default
            : (JsonSerializer.Deserialize<ApprovalPolicy>(stored.Value, JsonSerializerOptions.Web) ?? ApprovalPolicy.Default).Normalized();
    }
}

/// <summary>
/// The approval policy as the pages read it (the navigation's pending count, the policy page), kept in memory
/// (<see cref="SettingCache{T}"/>): a change on this instance applies at once, other instances see it
/// within Tessera:Tokens:CallerCacheSeconds. The pipeline does not use it: it reads the policy inside the serialized
/// directory transaction, so that a policy switched on binds the very next change on every instance.
/// </summary>
public sealed class ApprovalPolicyCache(IOptions<TokenOptions> options, TimeProvider clock, CacheSignals signals)
    : SettingCache<ApprovalPolicy>(options, clock, signals, CacheKinds.ApprovalPolicy)
{
    protected override Task<ApprovalPolicy> LoadAsync(TesseraDbContext db, CancellationToken ct) => ApprovalPolicyStore.GetAsync(db, ct);
}

/// <summary>Reads and replaces the approval policy (<c>GET|PUT /api/v1/approval-policy</c>, the policy page).</summary>
public sealed class ApprovalPolicyService(TesseraDbContext db, DirectoryPipeline pipeline, ApprovalPolicyCache cache, CallerDirectory callers, TimeProvider clock)
{
    public ValueTask<ApprovalPolicy> PolicyAsync(CancellationToken ct) => cache.GetAsync(db, ct);

    /// <summary>The policy, for a caller who sets it (MANAGE_GOVERNANCE) or works under it (APPROVE_CHANGES).</summary>
    public async Task<Outcome<ApprovalPolicy>> ReadAsync(CancellationToken ct)
    {
        var caller = pipeline.ActorId() is { } id ? await callers.GetAsync(id, ct) : null;
        if (caller is null || !(caller.Privileges.Contains(Privileges.ManageGovernance) || caller.Privileges.Contains(Privileges.ApproveChanges)))
        {
            return Failure.Forbidden("forbidden", "Reading the approval policy needs MANAGE_GOVERNANCE or APPROVE_CHANGES.");
        }

        return Outcome<ApprovalPolicy>.Ok(await PolicyAsync(ct));
    }

    /// <summary>
    /// Replaces the policy as a directory change (<c>approval_policy.changed</c>, before and after). One that removes an
    /// operation while any is on is stored for approval as <c>change_approval_policy</c>, whatever the policy lists.
    /// </summary>
    public async Task<Outcome<ApprovalPolicy>> SetPolicyAsync(ApprovalPolicy? policy, CancellationToken ct)
    {
        if (policy is null)
        {
            return Failure.Invalid("validation_failed", "The body must be an approval policy: operations, requestLifetimeHours.");
        }

        var errors = policy.Validate();
        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        var saved = policy.Normalized();
        var outcome = await pipeline.RunAsync(new SetApprovalPolicy(pipeline.ActorId(), saved), async scope =>
        {
            var before = await ApprovalPolicyStore.GetAsync(scope.Db, ct);
            var json = JsonSerializer.Serialize(saved, JsonSerializerOptions.Web);
            if (json == JsonSerializer.Serialize(before, JsonSerializerOptions.Web))
            {
                scope.NothingChanged();
                return null;
            }

            if (before.IsRelaxedBy(saved))
            {
                scope.RequireApproval(ApprovalPolicy.ChangeApprovalPolicy);
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var stored = await scope.Db.Settings.SingleOrDefaultAsync(s => s.Key == ApprovalPolicyStore.Key, ct);
            if (stored is null)
            {
                scope.Db.Settings.Add(new Setting { Key = ApprovalPolicyStore.Key, Value = json, UpdatedAt = now });
            }
            else
            {
                stored.Value = json;
                stored.UpdatedAt = now;
            }

            scope.Audit(new { before, after = saved });
            return null;
        }, _ => Task.FromResult(saved), ct);
        if (outcome.Succeeded)
        {
            cache.Invalidate();
        }

        return outcome;
    }
}
