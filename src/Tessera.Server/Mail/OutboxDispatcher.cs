using MailKit.Net.Smtp;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;
using Tessera.Server.Audit;
using Tessera.Server.Bootstrap;
using Tessera.Server.Storage;

namespace Tessera.Server.Mail;

/// <summary>The values of <see cref="OutboxMessage.Status"/>.</summary>
public static class OutboxStatus
{
    public const string Pending = "pending";
    public const string Sent = "sent";
    public const string Failed = "failed";
}

/// <summary>
/// Sends the outbox in the background: claims each due message, delivers it (SMTP, or a file without
/// a host), retries failures with a doubling delay, and gives up after `MaxAttempts` with a `mail.failed`
/// audit event. Several instances may run against one database; a claim keeps them off each other's messages.
/// </summary>
public sealed class OutboxDispatcher(
    IServiceScopeFactory scopes,
    OutboxBodies bodies,
    BootstrapGate bootstrap,
    IOptions<MailOptions> options,
    TimeProvider clock,
    Observability.TesseraMetrics metrics,
    ILogger<OutboxDispatcher> logger) : QueueDispatcher(bootstrap, logger)
{
    private const int BatchSize = 20;
    private const int MaxErrorLength = 1000;

    /// <summary>
    /// How long a claim keeps other instances away: far longer than one delivery can take (each SMTP step is
    /// bounded by its timeout). An instance that dies mid-send releases its messages when the lease ends.
    /// </summary>
    internal static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    protected override string QueueName => "The mail outbox";

    protected override int PollSeconds => options.Value.PollSeconds;

    protected override void Starting()
    {
        var o = options.Value;
        if (o.UsesSmtp)
        {
            logger.LogInformation("Mail goes to the SMTP server {Host}:{Port} ({Security}).", o.Smtp.Host, o.Smtp.Port, o.Smtp.Security);
        }
        else
        {
            logger.LogInformation("No Tessera:Mail:Smtp:Host is set: mail is written as .eml files to {Folder}.", Path.GetFullPath(o.OutboxPath));
        }
    }

    /// <summary>A full batch leaves more due: the next pass starts at once.</summary>
    protected override Task IdleAsync(int handled, CancellationToken ct)
        => handled < BatchSize ? Task.Delay(TimeSpan.FromSeconds(options.Value.PollSeconds), clock, ct) : Task.CompletedTask;

    internal override async Task<int> DispatchDueAsync(CancellationToken ct)
    {
        var o = options.Value;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditLog>();

        var now = clock.GetUtcNow().UtcDateTime;
        var due = await db.OutboxMessages.AsNoTracking()
            .Where(m => m.Status == OutboxStatus.Pending && m.NextAttemptAt <= now)
            .OrderBy(m => m.NextAttemptAt)
            .Select(m => m.Id)
            .Take(BatchSize)
            .ToListAsync(ct);
        if (due.Count == 0)
        {
            return 0;
        }

        var from = MailboxAddress.Parse(o.From);
        await using var transport = MailTransport.Create(o);
        foreach (var id in due)
        {
            ct.ThrowIfCancellationRequested();
            db.ChangeTracker.Clear();
            await DispatchAsync(db, audit, transport, from, id, ct);
        }

        return due.Count;
    }

    private async Task DispatchAsync(TesseraDbContext db, AuditLog audit, MailTransport transport, MailboxAddress from, Guid id, CancellationToken ct)
    {
        var o = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;

        // The claim: one conditional UPDATE. Only the instance whose UPDATE changes the row sends; the
        // lease moves NextAttemptAt ahead so the message is no longer due for anyone else.
        var lease = now + Lease;
        var claimed = await db.OutboxMessages
            .Where(m => m.Id == id && m.Status == OutboxStatus.Pending && m.NextAttemptAt <= now)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.NextAttemptAt, lease).SetProperty(m => m.Attempts, m => m.Attempts + 1), ct);
        if (claimed == 0)
        {
            return;
        }

        var message = await db.OutboxMessages.SingleAsync(m => m.Id == id, ct);
        string? error = null;
        var permanent = false;
        try
        {
            // Unprotected here only, into the MIME message; the row keeps the protected form.
            var composed = MailTransport.Compose(message, from, bodies.Unprotect(message.TextBody)!, bodies.Unprotect(message.HtmlBody));
            var where = await transport.DeliverAsync(composed, message.Id, ct);
            if (o.UsesSmtp)
            {
                logger.LogInformation("Mail {MessageId} to {Recipient} was sent through {Server}.", message.Id, message.To, where);
            }
            else
            {
                logger.LogInformation("Mail to {Recipient} was written to {File}.", message.To, where);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down mid-delivery: give the message back at once rather than at the end of the lease.
            await db.OutboxMessages
                .Where(m => m.Id == id && m.Status == OutboxStatus.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.NextAttemptAt, now).SetProperty(m => m.Attempts, m => m.Attempts - 1), CancellationToken.None);
            throw;
        }
        catch (Exception e)
        {
            error = Describe(e);
            // A body whose Data Protection key is gone can never be read again: retrying would not help.
            permanent = e is SmtpCommandException { ErrorCode: SmtpErrorCode.RecipientNotAccepted } refused && (int)refused.StatusCode >= 500
                        || e is ParseException or System.Security.Cryptography.CryptographicException;
        }

        // From here the outcome is saved even if shutdown began: a sent message must not be sent again.
        var done = clock.GetUtcNow().UtcDateTime;
        if (error is null)
        {
            message.Status = OutboxStatus.Sent;
            message.SentAt = done;
            message.LastError = null;
        }
        else if (permanent || message.Attempts >= o.MaxAttempts)
        {
            metrics.MailFailures.Add(1, new KeyValuePair<string, object?>("final", "true"));
            message.Status = OutboxStatus.Failed;
            message.LastError = error;
            audit.Record(db, "mail.failed", "mail", message.Id.ToString(), message.To,
                new { to = message.To, subject = message.Subject, attempts = message.Attempts, error }, "failure", Actor.System);
            logger.LogError("Mail {MessageId} to {Recipient} failed after {Attempts} attempt(s), giving up: {Error}", message.Id, message.To, message.Attempts, error);
        }
        else
        {
            metrics.MailFailures.Add(1, new KeyValuePair<string, object?>("final", "false"));
            message.LastError = error;
            message.NextAttemptAt = done + o.RetryDelay(message.Attempts);
            logger.LogWarning("Mail {MessageId} to {Recipient}: attempt {Attempts} of {MaxAttempts} failed ({Error}); next attempt at {NextAttemptAt:O}.",
                message.Id, message.To, message.Attempts, o.MaxAttempts, error, message.NextAttemptAt);
        }

        await db.SaveChangesAsync(CancellationToken.None);
    }

    /// <summary>What went wrong, in one line: the exception's kind and message, never the message's content.</summary>
    private static string Describe(Exception e)
    {
        var text = e switch
        {
            SmtpCommandException smtp => $"SMTP {(int)smtp.StatusCode} {smtp.ErrorCode}: {smtp.Message}",
            SmtpProtocolException protocol => $"SMTP protocol: {protocol.Message}",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        text = string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));
        return text.Length > MaxErrorLength ? text[..MaxErrorLength] : text;
    }
}
