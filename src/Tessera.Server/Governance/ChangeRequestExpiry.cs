using Tessera.Server.Bootstrap;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// Ends pending change requests past their expiry as <c>expired</c> (audited <c>change_request.expired</c>), every
/// <see cref="Period"/> on every instance; the serialized transaction lets only one instance end each. Reading or
/// deciding a request checks its expiry as well, so nobody waits for this sweep.
/// </summary>
public sealed class ChangeRequestExpiry(IServiceScopeFactory scopes, BootstrapGate bootstrap, TimeProvider clock, ILogger<ChangeRequestExpiry> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            await bootstrap.Completion.WaitAsync(stoppingToken);
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested || !bootstrap.Completion.IsCompletedSuccessfully)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Period, clock, stoppingToken);
                await SweepAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                if (!DatabaseFaults.IsUnavailable(e))
                {
                    logger.LogWarning(e, "Ending expired change requests failed; the next sweep is in {Minutes} min.", Period.TotalMinutes);
                }
            }
        }
    }

    /// <summary>One sweep; returns how many requests it ended.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ChangeRequestService>().ExpireDueAsync(ct);
    }
}
