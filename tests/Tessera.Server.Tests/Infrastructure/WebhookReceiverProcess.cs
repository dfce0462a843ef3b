using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A real webhook receiver (tests/support/webhook-receiver) on a free loopback port. It verifies every delivery with
/// the official Standard Webhooks library and the secret it was started with, and keeps every request, whatever it
/// answered. <see cref="StopAsync"/> and <see cref="RestartAsync"/> make it "down" (connections refused) and up again on
/// the same port; requests received before a stop are still listed by <see cref="ReceivedAsync"/>. A restart answers
/// 200 again and keeps the clock offset.
/// </summary>
public sealed partial class WebhookReceiverProcess : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly string _directory;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly List<ReceivedWebhook> _beforeRestart = [];
    private NodePeer? _peer;
    private TimeSpan _clockOffset;
    private bool _disposed;

    private WebhookReceiverProcess(string directory, string secret)
    {
        _directory = directory;
        Secret = secret;
    }

    /// <summary>The secret (`whsec_...`) every delivery is verified with.</summary>
    public string Secret { get; }

    /// <summary>The port on 127.0.0.1; the same after <see cref="RestartAsync"/>.</summary>
    public int Port { get; private set; }

    public string Output => _peer?.Output ?? string.Empty;

    public static async Task<WebhookReceiverProcess> StartAsync(string secret)
    {
        var receiver = new WebhookReceiverProcess(NodePeer.PeerDirectory("webhook-receiver", "standardwebhooks"), secret);
        try
        {
            await receiver.LaunchAsync(0);
            return receiver;
        }
        catch
        {
            await receiver.DisposeAsync();
            throw;
        }
    }

    /// <summary>The URL of a subscription that this receiver records under <c>/hooks/<paramref name="name"/></c>.</summary>
    public string Url(string name, string? query = null)
        => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/hooks/{name}{(query is null ? "" : "?" + query)}";

    /// <summary>Every request received so far, oldest first (including those from before a restart).</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> ReceivedAsync(string? name = null)
    {
        await _lifecycle.WaitAsync();
        try
        {
            var all = new List<ReceivedWebhook>(_beforeRestart);
            if (_peer is not null)
            {
                all.AddRange(await FetchAsync());
            }

            return name is null ? all : [.. all.Where(r => r.Path == "/hooks/" + name)];
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Polls the requests to <paramref name="name"/> until <paramref name="done"/> holds; throws listing what did arrive.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(string name, Func<IReadOnlyList<ReceivedWebhook>, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var received = await ReceivedAsync(name);
            if (done(received))
            {
                return received;
            }

            if (DateTime.UtcNow >= deadline)
            {
                var seen = new StringBuilder();
                foreach (var r in received)
                {
                    seen.Append(CultureInfo.InvariantCulture, $"\n  {r.ReceivedAt:O} {r.WebhookId} {r.Type} answered {r.Status} verified={r.Verified} {r.Error}");
                }

                throw new TimeoutException($"The receiver's requests to /hooks/{name} did not satisfy the test within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; " +
                                           $"{received.Count.ToString(CultureInfo.InvariantCulture)} received:{seen}\nReceiver output:\n{Output}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Deliveries are answered with <paramref name="status"/> from now on (until a restart).</summary>
    public Task AnswerAsync(int status) => ModeAsync(new { status });

    /// <summary>Moves the receiver's clock to the test host's, so that the library's 5-minute timestamp check agrees with the host's time.</summary>
    public async Task FollowClockAsync(TimeProvider hostClock)
    {
        ArgumentNullException.ThrowIfNull(hostClock);
        _clockOffset = hostClock.GetUtcNow() - DateTimeOffset.UtcNow;
        if (_peer is not null)
        {
            await ModeAsync(new { clockOffsetSeconds = Math.Round(_clockOffset.TotalSeconds) });
        }
    }

    /// <summary>Asks the receiver's Standard Webhooks library whether these headers sign this body.</summary>
    public async Task<VerifyResult> VerifyAsync(IReadOnlyDictionary<string, string?> headers, string body)
    {
        using var response = await _http.PostAsJsonAsync(ApiUri("/verify"), new { headers, body }, Json);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<VerifyResult>(Json))!;
    }

    /// <summary>Stops the receiver: connections to <see cref="Port"/> are refused until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            await StopCoreAsync();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the receiver if it runs and starts it again on the same port.</summary>
    public async Task RestartAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await StopCoreAsync();
            await LaunchAsync(Port);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_peer is not null)
            {
                await _peer.DisposeAsync();
                _peer = null;
            }

            _http.Dispose();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private Uri ApiUri(string path) => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}{path}");

    private async Task ModeAsync(object mode)
    {
        using var response = await _http.PostAsJsonAsync(ApiUri("/mode"), mode, Json);
        response.EnsureSuccessStatusCode();
    }

    private async Task<List<ReceivedWebhook>> FetchAsync() => await _http.GetFromJsonAsync<List<ReceivedWebhook>>(ApiUri("/received"), Json) ?? [];

    private async Task StopCoreAsync()
    {
        if (_peer is null)
        {
            return;
        }

        _beforeRestart.AddRange(await FetchAsync());
        await _peer.DisposeAsync();
        _peer = null;
    }

    private async Task LaunchAsync(int port)
    {
        var environment = new Dictionary<string, string>
        {
            ["WEBHOOK_SECRET"] = Secret,
            ["CLOCK_OFFSET_SECONDS"] = Math.Round(_clockOffset.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        };

        // The port is kept across restarts; the old process may hold it for a moment after a kill.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var peer = await NodePeer.StartAsync("webhook-receiver", _directory, [port.ToString(CultureInfo.InvariantCulture)], environment);
                var ready = ReadyLine().Match(peer.ReadyLine);
                if (!ready.Success)
                {
                    await peer.DisposeAsync();
                    throw new InvalidOperationException($"Unexpected READY line from the webhook receiver: {peer.ReadyLine}");
                }

                Port = int.Parse(ready.Groups["port"].Value, CultureInfo.InvariantCulture);
                _peer = peer;
                return;
            }
            catch (InvalidOperationException e) when (port != 0 && attempt < 20 && e.Message.Contains("EADDRINUSE", StringComparison.Ordinal))
            {
                await Task.Delay(250);
            }
        }
    }

    [GeneratedRegex(@"^READY port=(?<port>\d+)$")]
    private static partial Regex ReadyLine();
}

/// <summary>One request as the receiver got it: <paramref name="Status"/> is what it answered, <paramref name="Verified"/> what the library said.</summary>
public sealed record ReceivedWebhook(string Path, string? WebhookId, string? Timestamp, bool Verified, string? Error, string? Type, int Status,
    Dictionary<string, string?> Headers, string Body, DateTimeOffset ReceivedAt)
{
    public bool Accepted => Status is >= 200 and < 300;

    /// <summary>The audit event id in the body (data.id).</summary>
    public long EventId
    {
        get
        {
            using var body = JsonDocument.Parse(Body);
            return body.RootElement.GetProperty("data").GetProperty("id").GetInt64();
        }
    }
}

public sealed record VerifyResult(bool Verified, string? Error);
