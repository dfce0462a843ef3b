using MimeKit;
using Tessera.Core.Users;
using Tessera.Server.Storage;

namespace Tessera.Server.Mail;

/// <summary>
/// Queues an email in the caller's unit of work: it is stored when the caller saves and commits,
/// and vanishes with a rollback. Its bodies are stored protected (<see cref="OutboxBodies"/>). <see cref="OutboxDispatcher"/> sends it afterwards; nothing is sent here.
/// </summary>
public sealed class MailOutbox(MailTemplates templates, OutboxBodies bodies, TimeProvider clock)
{
    /// <summary>The longest subject the outbox stores.</summary>
    internal const int MaxSubjectLength = 300;

    /// <summary>Renders <paramref name="template"/> with <paramref name="values"/> and adds the message to <paramref name="db"/> (not saved).</summary>
    /// <exception cref="ArgumentException">An invalid address, an unknown template or a missing value.</exception>
    public OutboxMessage Enqueue(TesseraDbContext db, string to, string template, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (string.IsNullOrWhiteSpace(to) || to.Length > Usernames.MaxEmailLength
            || !MailboxAddress.TryParse(to.Trim(), out var address) || !address.Address.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{to}' is not an email address.", nameof(to));
        }

        var mail = templates.Render(template, values);
        var now = clock.GetUtcNow().UtcDateTime;
        var message = new OutboxMessage
        {
            To = address.Address,
            Subject = mail.Subject.Length > MaxSubjectLength ? mail.Subject[..MaxSubjectLength] : mail.Subject,
            TextBody = bodies.Protect(mail.Text),
            HtmlBody = bodies.ProtectOrNull(mail.Html),
            CreatedAt = now,
            NextAttemptAt = now,
        };
        db.OutboxMessages.Add(message);
        return message;
    }
}
