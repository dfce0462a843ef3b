using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Server.Audit;
using Tessera.Server.Bootstrap;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>`Tessera:Governance`: how often ended role grants and memberships are looked for.</summary>
public sealed class AccessLapseOptions
{
    public const string Section = "Tessera:Governance";

    /// <summary>
    /// Seconds between two looks for assignments whose validity has ended. Access never waits for the look (every
    /// decision reads the validity itself); the period only bounds how late <c>access.expired</c> is written.
    /// </summary>
    [Range(1, 86400, ErrorMessage = Section + ":LapseSweepSeconds must be a whole number of seconds from 1 to 86400 (a day).")]
    public int LapseSweepSeconds { get; set; } = 60;
}

/// <summary>
/// Records the end of time-bound access: once a role grant or group membership is past its <c>validUntil</c>, writes
/// the audit event <c>access.expired</c> for it exactly once (on the user; the role or group and the end in its
/// details) and clears this instance's cache of callers' standing. Runs on every instance; a conditional update of
/// <c>LapseRecordedAt</c> claims each lapse, so that of several instances exactly one records it. The assignment
/// itself stays stored, shown as expired, until someone removes it.
/// </summary>
public sealed class AccessLapseSweep(
    IServiceScopeFactory scopes,
    BootstrapGate bootstrap,
    CallerDirectory callers,
    IOptions<AccessLapseOptions> options,
    TimeProvider clock,
    ILogger<AccessLapseSweep> logger) : PeriodicJob(bootstrap, clock, logger)
{
    public const string AuditAction = "access.expired";

    /// <summary>Lapses claimed per transaction; a larger backlog is worked off in several.</summary>
    internal const int BatchSize = 200;

    protected override TimeSpan Period => TimeSpan.FromSeconds(options.Value.LapseSweepSeconds);

    protected override string Name => "Looking for ended role grants and memberships";

    protected override Task RunOnceAsync(CancellationToken ct) => SweepAsync(ct);

    /// <summary>One look: records every lapse not yet recorded; returns how many this instance recorded.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var recorded = 0;
        bool more;
        do
        {
            (var claimed, more) = await SweepBatchAsync(ct);
            recorded += claimed;

            // A full batch may leave more behind; a batch whose claims all went to another instance ends this look.
            more &= claimed > 0;
        }
        while (more && !ct.IsCancellationRequested);

        if (recorded > 0)
        {
            // Decisions already read the validity; the cached names of roles and groups follow now too.
            callers.Invalidate();
            logger.LogInformation("Recorded the end of {Count} role grant(s) or membership(s).", recorded);
        }

        return recorded;
    }

    private async Task<(int Recorded, bool More)> SweepBatchAsync(CancellationToken ct)
    {
        var now = Clock.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditLog>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        var roles = await db.UserRoles.AsNoTracking().Where(r => r.ValidUntil <= now && r.LapseRecordedAt == null)
            .OrderBy(r => r.ValidUntil).Take(BatchSize)
            .Join(db.Users, r => r.UserId, u => u.Id, (r, u) => new { r.UserId, r.RoleId, u.Username, Role = r.Role!.Name, r.ValidUntil })
            .ToListAsync(ct);
        var memberships = await db.GroupMembers.AsNoTracking().Where(m => m.ValidUntil <= now && m.LapseRecordedAt == null)
            .OrderBy(m => m.ValidUntil).Take(BatchSize)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.UserId, m.GroupId, u.Username, Group = m.Group!.Name, m.ValidUntil })
            .ToListAsync(ct);

        // The claim: only the update that still finds the lapse unrecorded (with the end this look read) changes the
        // row. On PostgreSQL a second instance's update waits for this transaction and then finds it recorded; a
        // rollback leaves the lapse to the next look.
        var recorded = 0;
        foreach (var r in roles)
        {
            if (await db.UserRoles.Where(x => x.UserId == r.UserId && x.RoleId == r.RoleId && x.ValidUntil == r.ValidUntil && x.LapseRecordedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LapseRecordedAt, now), ct) == 1)
            {
                audit.Record(db, AuditAction, "user", r.UserId.ToString(), r.Username, new { role = r.Role, validUntil = r.ValidUntil }, actor: Actor.System);
                recorded++;
            }
        }

        foreach (var m in memberships)
        {
            if (await db.GroupMembers.Where(x => x.UserId == m.UserId && x.GroupId == m.GroupId && x.ValidUntil == m.ValidUntil && x.LapseRecordedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LapseRecordedAt, now), ct) == 1)
            {
                audit.Record(db, AuditAction, "user", m.UserId.ToString(), m.Username, new { group = m.Group, validUntil = m.ValidUntil }, actor: Actor.System);
                recorded++;
            }
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);

        return (recorded, roles.Count == BatchSize || memberships.Count == BatchSize);
    }
}

public static class AccessLapseSetup
{
    public static IServiceCollection AddTesseraAccessLapseSweep(this IServiceCollection services)
    {
        services.AddOptions<AccessLapseOptions>().BindConfiguration(AccessLapseOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        // One instance, so that tests (and an operator's tooling) can ask it for a look now.
        services.AddSingleton<AccessLapseSweep>();
        services.AddHostedService(sp => sp.GetRequiredService<AccessLapseSweep>());
        return services;
    }
}
