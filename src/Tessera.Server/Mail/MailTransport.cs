using System.Globalization;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Tessera.Server.Storage;

namespace Tessera.Server.Mail;

/// <summary>Where a composed message goes: an SMTP relay, or a folder of .eml files.</summary>
internal abstract class MailTransport : IAsyncDisposable
{
    public static MailTransport Create(MailOptions options) =>
        options.UsesSmtp ? new SmtpTransport(options.Smtp) : new FileTransport(Path.GetFullPath(options.OutboxPath));

    /// <summary>Delivers the message; returns where it went, for the log.</summary>
    public abstract Task<string> DeliverAsync(MimeMessage message, Guid id, CancellationToken ct);

    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// The MIME form of a stored message with its bodies as sent (<paramref name="text"/>, <paramref name="html"/>: the
    /// stored ones unprotected); the Message-Id derives from the outbox id, so a resend is recognisable.
    /// </summary>
    public static MimeMessage Compose(OutboxMessage stored, MailboxAddress from, string text, string? html)
    {
        var message = new MimeMessage();
        message.From.Add(from);
        message.To.Add(MailboxAddress.Parse(stored.To));
        message.Subject = stored.Subject;
        message.Date = new DateTimeOffset(DateTime.SpecifyKind(stored.CreatedAt, DateTimeKind.Utc));
        message.MessageId = $"{stored.Id:N}@{from.Domain}";
        message.Body = new BodyBuilder { TextBody = text, HtmlBody = html }.ToMessageBody();
        return message;
    }
}

/// <summary>One SMTP connection, opened at the first message and kept for the rest of a batch.</summary>
internal sealed class SmtpTransport(SmtpOptions options) : MailTransport
{
    private SmtpClient? _client;

    public override async Task<string> DeliverAsync(MimeMessage message, Guid id, CancellationToken ct)
    {
        try
        {
            var client = await ConnectedAsync(ct);
            await client.SendAsync(message, ct);
            return string.Create(CultureInfo.InvariantCulture, $"{options.Host}:{options.Port}");
        }
        catch (SmtpCommandException e) when (e.ErrorCode is SmtpErrorCode.RecipientNotAccepted or SmtpErrorCode.MessageNotAccepted)
        {
            // The session is still usable: the server refused this message, not the connection.
            throw;
        }
        catch
        {
            // After anything else the connection's state is unknown: the next message starts afresh.
            Drop();
            throw;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_client is { IsConnected: true } client)
        {
            try
            {
                using var quit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await client.DisconnectAsync(quit: true, quit.Token);
            }
            catch (Exception)
            {
                // QUIT is a courtesy; the socket closes with Dispose anyway.
            }
        }

        Drop();
    }

    private async Task<SmtpClient> ConnectedAsync(CancellationToken ct)
    {
        if (_client is { IsConnected: true })
        {
            return _client;
        }

        Drop();
        var client = new SmtpClient { Timeout = (int)TimeSpan.FromSeconds(options.TimeoutSeconds).TotalMilliseconds };
        try
        {
            var security = options.Security switch
            {
                SmtpSecurity.None => SecureSocketOptions.None,
                SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
                _ => SecureSocketOptions.StartTls,
            };
            await client.ConnectAsync(options.Host!.Trim(), options.Port, security, ct);
            if (!string.IsNullOrWhiteSpace(options.Username))
            {
                await client.AuthenticateAsync(options.Username, options.Password ?? "", ct);
            }
        }
        catch
        {
            client.Dispose();
            throw;
        }

        _client = client;
        return client;
    }

    private void Drop()
    {
        _client?.Dispose();
        _client = null;
    }
}

/// <summary>File-outbox mode: each message becomes an .eml file, for development and small offices without a relay.</summary>
internal sealed class FileTransport(string folder) : MailTransport
{
    public override async Task<string> DeliverAsync(MimeMessage message, Guid id, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var name = string.Create(CultureInfo.InvariantCulture, $"{message.Date.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}-{id:N}.eml");
        var path = Path.Combine(folder, name);
        var partial = path + ".partial";

        // Written aside and moved in, so a reader of the folder never sees half a message.
        await using (var stream = File.Create(partial))
        {
            await message.WriteToAsync(stream, ct);
        }

        File.Move(partial, path, overwrite: true);
        return path;
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
