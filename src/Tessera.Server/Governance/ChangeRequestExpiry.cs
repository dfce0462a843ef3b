using Tessera.Server.Bootstrap;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// Ends pending change requests past their expiry as <c>expired</c> (audited <c>change_request.expired</c>), every
/// <see cref="Period"/> on every instance; the serialized transaction lets only one instance end each. Reading or
/// deciding a request checks its expiry as well, so nobody waits for this sweep.
/// </summary>
public sealed class ChangeRequestExpiry(IServiceScopeFactory scopes, BootstrapGate bootstrap, TimeProvider clock, ILogger<ChangeRequestExpiry> logger)
    : PeriodicJob(bootstrap, clock, logger)
{
    protected override TimeSpan Period => TimeSpan.FromMinutes(5);

    protected override string Name => "Ending expired change requests";

    protected override Task RunOnceAsync(CancellationToken ct) => SweepAsync(ct);

    /// <summary>One sweep; returns how many requests it ended.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ChangeRequestService>().ExpireDueAsync(ct);
    }
}
