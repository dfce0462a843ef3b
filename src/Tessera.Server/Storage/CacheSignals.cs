using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using Tessera.Server.Bootstrap;
using Tessera.Server.Observability;
using Tessera.Server.SignIn;

namespace Tessera.Server.Storage;

/// <summary>The caches that a change on one instance clears on every other, as the notifications name them.</summary>
public static class CacheKinds
{
    /// <summary>Each caller's standing: status, stamp, roles, groups, access (<see cref="CallerDirectory"/>).</summary>
    public const string Callers = "callers";

    public const string PasswordPolicy = "password-policy";

    public const string ApprovalPolicy = "approval-policy";

    /// <summary>Which token ids are revoked.</summary>
    public const string Revocations = "revocations";

    /// <summary>The webhook subscriptions that audit events fan out to.</summary>
    public const string Webhooks = "webhooks";
}

/// <summary>
/// Tells the other instances on one PostgreSQL database that something they cache has changed, and clears this
/// instance's caches when they say so. A cache registers how to clear itself under its kind; a use case that
/// committed a change calls its cache's invalidation, which clears it here and calls <see cref="Publish"/>.
/// The notifications travel as PostgreSQL NOTIFY on <see cref="Channel"/> (payload `kind|instance|unix-ms`) and
/// arrive through <see cref="CacheSignalListener"/> within milliseconds. Every cache keeps its time bound
/// (Tessera:Tokens:CallerCacheSeconds) as the fallback: while notifications are lost, a change still arrives
/// within that bound, and the listener clears everything when it loses and regains its connection.
/// SQLite serves one instance, so there is nothing to tell: <see cref="Publish"/> does nothing.
/// </summary>
public sealed class CacheSignals(IConfiguration configuration, TesseraMetrics metrics, TimeProvider clock)
{
    public const string Channel = "tessera_changes";

    private readonly ConcurrentDictionary<string, Action[]> _targets = new(StringComparer.Ordinal);
    private readonly Channel<string> _outgoing = System.Threading.Channels.Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private bool? _shared;

    /// <summary>This process among the instances: its own notifications come back to it and are skipped.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>Whether other instances may share the database (PostgreSQL).</summary>
    public bool Shared => _shared ??= StorageSetup.IsPostgres(configuration);

    internal ChannelReader<string> Outgoing => _outgoing.Reader;

    /// <summary>How to clear this instance's cache of <paramref name="kind"/> when another instance changed it.</summary>
    public void Register(string kind, Action clear)
        => _targets.AddOrUpdate(kind, [clear], (_, existing) => [.. existing, clear]);

    /// <summary>Tells the other instances, after a commit, that what they cache of <paramref name="kind"/> is stale. Never blocks.</summary>
    public void Publish(string kind)
    {
        if (Shared)
        {
            _outgoing.Writer.TryWrite(kind);
        }
    }

    internal string Payload(string kind) => string.Create(CultureInfo.InvariantCulture, $"{kind}|{InstanceId}|{clock.GetUtcNow().ToUnixTimeMilliseconds()}");

    /// <summary>One notification arrived: clears the cache it names, unless this instance sent it.</summary>
    internal void Receive(string payload)
    {
        var parts = payload.Split('|');
        if (parts.Length != 3 || parts[1] == InstanceId)
        {
            return;
        }

        Clear(parts[0]);
        if (long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sentAt))
        {
            metrics.Invalidated(parts[0], clock.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(sentAt));
        }
    }

    /// <summary>Clears every registered cache: after notifications may have been missed.</summary>
    internal void ClearAll()
    {
        foreach (var kind in _targets.Keys)
        {
            Clear(kind);
        }
    }

    private void Clear(string kind)
    {
        if (_targets.TryGetValue(kind, out var clears))
        {
            foreach (var clear in clears)
            {
                clear();
            }
        }
    }
}

/// <summary>
/// Carries <see cref="CacheSignals"/> over PostgreSQL: sends what this instance publishes, and listens on a
/// dedicated connection (outside the pool, which a database fault clears) for what the others publish. A lost
/// connection is logged once, clears every cache (what was missed is then read afresh), and is reopened with a
/// growing pause; until then the caches' time bound applies. On SQLite it does nothing.
/// </summary>
public sealed class CacheSignalListener(
    CacheSignals signals,
    IServiceProvider services,
    IConfiguration configuration,
    BootstrapGate bootstrap,
    IOptions<TokenOptions> tokens,
    TesseraMetrics metrics,
    ILogger<CacheSignalListener> logger) : BackgroundService
{
    /// <summary>How long the connection may be silent before it is probed.</summary>
    internal static readonly TimeSpan Probe = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        if (!signals.Shared)
        {
            return;
        }

        try
        {
            await bootstrap.Completion.WaitAsync(stoppingToken);
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested || !bootstrap.Completion.IsCompletedSuccessfully)
        {
            return;
        }

        await Task.WhenAll(ListenAsync(stoppingToken), SendAsync(stoppingToken));
    }

    private async Task ListenAsync(CancellationToken stop)
    {
        var builder = new NpgsqlConnectionStringBuilder(StorageSetup.PostgresConnectionString(configuration))
        {
            Pooling = false,
            Multiplexing = false,
            KeepAlive = (int)Probe.TotalSeconds,
            ApplicationName = "tessera-notifications",
        };
        await using var source = new NpgsqlSlimDataSourceBuilder(builder.ConnectionString) { Name = "tessera-notifications" }.Build();
        var lost = false;
        var pause = TimeSpan.FromMilliseconds(250);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await source.OpenConnectionAsync(stop);
                connection.Notification += (_, e) => signals.Receive(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {CacheSignals.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                if (lost)
                {
                    // Whatever changed meanwhile was not heard: read everything afresh.
                    signals.ClearAll();
                    logger.LogInformation("Change notifications from the other instances are received again; this instance's caches were cleared.");
                }
                else
                {
                    logger.LogDebug("Listening for change notifications on {Channel}.", CacheSignals.Channel);
                }

                lost = false;
                pause = TimeSpan.FromMilliseconds(250);
                while (!stop.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(Probe, stop))
                    {
                        await using var probe = new NpgsqlCommand("SELECT 1", connection);
                        await probe.ExecuteScalarAsync(stop);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                if (!lost)
                {
                    lost = true;
                    signals.ClearAll();
                    metrics.InvalidationLost.Add(1);

                    // When the database itself does not answer, DatabaseOutage warns of that once; nothing can be
                    // committed meanwhile, so nothing is missed, and this is a detail of the same outage.
                    var level = DatabaseFaults.IsUnavailable(e) ? LogLevel.Information : LogLevel.Warning;
                    logger.Log(level, "Change notifications from the other instances were lost ({Error}). Until they resume, a change made elsewhere reaches this instance within Tessera:Tokens:CallerCacheSeconds ({Seconds} s).",
                        DatabaseFaults.Describe(e), tokens.Value.CallerCacheSeconds);
                }

                try
                {
                    await Task.Delay(pause, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    private async Task SendAsync(CancellationToken stop)
    {
        var source = services.GetRequiredService<NpgsqlDataSource>();
        var failing = false;
        var kinds = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (await signals.Outgoing.WaitToReadAsync(stop))
            {
                // Changes that came together go together, once per kind.
                kinds.Clear();
                while (signals.Outgoing.TryRead(out var kind))
                {
                    kinds.Add(kind);
                }

                foreach (var kind in kinds)
                {
                    try
                    {
                        await using var notify = source.CreateCommand("SELECT pg_notify($1, $2)");
                        notify.Parameters.Add(new NpgsqlParameter { Value = CacheSignals.Channel });
                        notify.Parameters.Add(new NpgsqlParameter { Value = signals.Payload(kind) });
                        await notify.ExecuteNonQueryAsync(stop);
                        failing = false;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        if (!failing)
                        {
                            failing = true;
                            var level = DatabaseFaults.IsUnavailable(e) ? LogLevel.Information : LogLevel.Warning;
                            logger.Log(level, "A change notification could not be sent ({Error}); the other instances see the change within Tessera:Tokens:CallerCacheSeconds ({Seconds} s).",
                                DatabaseFaults.Describe(e), tokens.Value.CallerCacheSeconds);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
