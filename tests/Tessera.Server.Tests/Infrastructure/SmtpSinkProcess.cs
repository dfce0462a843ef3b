using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A real SMTP server (npm smtp-server, tests/support/smtp-sink) on a free loopback port that keeps
/// every message it accepts: plain SMTP, no STARTTLS, AUTH PLAIN/LOGIN optional (any credentials).
/// <see cref="StopAsync"/> and <see cref="RestartAsync"/> simulate an outage; the port stays the same,
/// and messages received before the stop are still listed by <see cref="MessagesAsync"/>.
/// </summary>
public sealed partial class SmtpSinkProcess : IAsyncDisposable
{
    private static readonly JsonSerializerOptions MessageJson = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly string _directory;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly List<ReceivedMail> _beforeRestart = [];
    private NodePeer? _peer;
    private int _httpPort;
    private bool _disposed;

    private SmtpSinkProcess(string directory)
    {
        _directory = directory;
    }

    /// <summary>The SMTP port on 127.0.0.1; the same after <see cref="RestartAsync"/>.</summary>
    public int SmtpPort { get; private set; }

    public string SmtpHost => "127.0.0.1";

    public bool IsRunning => _peer is not null;

    /// <summary>What the sink printed since its last start (stdout and stderr), for failure messages.</summary>
    public string Output => _peer?.Output ?? string.Empty;

    public static async Task<SmtpSinkProcess> StartAsync()
    {
        var sink = new SmtpSinkProcess(NodePeer.PeerDirectory("smtp-sink", "smtp-server"));
        try
        {
            await sink.LaunchAsync(smtpPort: 0);
            return sink;
        }
        catch
        {
            await sink.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every message received so far, oldest first (including those from before a restart).</summary>
    public async Task<IReadOnlyList<ReceivedMail>> MessagesAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            var messages = new List<ReceivedMail>(_beforeRestart);
            if (_peer is not null)
            {
                messages.AddRange(await FetchAsync());
            }

            return messages;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Polls until a received message matches; throws <see cref="TimeoutException"/> listing what did arrive.</summary>
    public async Task<ReceivedMail> WaitForMessageAsync(Func<ReceivedMail, bool> match, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(match);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var messages = await MessagesAsync();
            var found = messages.FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            if (DateTime.UtcNow >= deadline)
            {
                var seen = new StringBuilder();
                foreach (var m in messages)
                {
                    seen.Append(CultureInfo.InvariantCulture, $"\n  {m.ReceivedAt:O} from {m.From} to {string.Join(", ", m.To)}: {m.Subject}");
                }

                throw new TimeoutException(
                    $"No matching mail within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; " +
                    $"{messages.Count.ToString(CultureInfo.InvariantCulture)} received:{seen}");
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Forgets every message received so far.</summary>
    public async Task ClearAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            _beforeRestart.Clear();
            if (_peer is not null)
            {
                using var response = await _http.DeleteAsync(MessagesUri);
                response.EnsureSuccessStatusCode();
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the SMTP server: connections to <see cref="SmtpPort"/> are refused until <see cref="RestartAsync"/>.</summary>
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

    /// <summary>Stops the server if it runs and starts it again on the same SMTP port.</summary>
    public async Task RestartAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            await StopCoreAsync();
            await LaunchAsync(SmtpPort);
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

    private Uri MessagesUri => new($"http://127.0.0.1:{_httpPort.ToString(CultureInfo.InvariantCulture)}/messages");

    private async Task<List<ReceivedMail>> FetchAsync()
    {
        var messages = await _http.GetFromJsonAsync<List<ReceivedMail>>(MessagesUri, MessageJson);
        return messages ?? [];
    }

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

    private async Task LaunchAsync(int smtpPort)
    {
        // The HTTP API always takes a new free port; the SMTP port is kept across restarts. Another
        // process may hold the old port for a moment after a kill, so a restart tries a few times.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var peer = await NodePeer.StartAsync("smtp-sink", _directory, [smtpPort.ToString(CultureInfo.InvariantCulture), "0"]);
                var ready = ReadyLine().Match(peer.ReadyLine);
                if (!ready.Success)
                {
                    await peer.DisposeAsync();
                    throw new InvalidOperationException($"Unexpected READY line from the SMTP sink: {peer.ReadyLine}");
                }

                SmtpPort = int.Parse(ready.Groups["smtp"].Value, CultureInfo.InvariantCulture);
                _httpPort = int.Parse(ready.Groups["http"].Value, CultureInfo.InvariantCulture);
                _peer = peer;
                return;
            }
            catch (InvalidOperationException e) when (smtpPort != 0 && attempt < 20 && e.Message.Contains("EADDRINUSE", StringComparison.Ordinal))
            {
                await Task.Delay(250);
            }
        }
    }

    [GeneratedRegex(@"^READY smtp=(?<smtp>\d+) http=(?<http>\d+)$")]
    private static partial Regex ReadyLine();
}

/// <param name="From">The envelope sender (MAIL FROM), else the From header's address.</param>
/// <param name="To">The envelope recipients (RCPT TO): To, Cc and Bcc alike.</param>
/// <param name="Text">The plain-text body; derived from the HTML body when the mail has no text part.</param>
public sealed record ReceivedMail(string From, IReadOnlyList<string> To, string Subject, string Text, string? Html, DateTimeOffset ReceivedAt);
