using MimeKit;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using User = Tessera.Server.Storage.User;

namespace Tessera.Server.Mail;

/// <summary>
/// Queues an email in the caller's unit of work: it is stored when the caller saves and commits,
/// and vanishes with a rollback. Its bodies are stored protected (<see cref="OutboxBodies"/>). <see cref="OutboxDispatcher"/> sends it afterwards; nothing is sent here.
/// </summary>
public sealed class MailOutbox(MailTemplates templates, OutboxBodies bodies, TimeProvider clock, IHttpContextAccessor http)
{
    /// <summary>The longest subject the outbox stores.</summary>
    internal const int MaxSubjectLength = 300;

    /// <summary>
    /// The language and time zone of a mail to <paramref name="recipient"/> queued now: theirs, else this Back Office
    /// request's language, else English (<see cref="MailLanguage.For"/>). Values that hold dates are formatted with it.
    /// </summary>
    public MailLanguage LanguageFor(User? recipient) => MailLanguage.For(recipient, http.HttpContext);

    /// <summary>Renders <paramref name="template"/> in the language of a mail to <paramref name="recipient"/> (<see cref="LanguageFor"/>) and adds it to <paramref name="db"/> (not saved).</summary>
    /// <param name="to">The address, when not the recipient's own (a notice to the address an email change left behind).</param>
    public OutboxMessage Enqueue(TesseraDbContext db, User recipient, string template, IReadOnlyDictionary<string, string> values, string? to = null)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        return Enqueue(db, to ?? recipient.Email, template, values, LanguageFor(recipient));
    }

    /// <summary>Renders <paramref name="template"/> with <paramref name="values"/> in <paramref name="language"/> (this request's, else English, when none) and adds the message to <paramref name="db"/> (not saved).</summary>
    /// <exception cref="ArgumentException">An invalid address, an unknown template or a missing value.</exception>
    public OutboxMessage Enqueue(TesseraDbContext db, string to, string template, IReadOnlyDictionary<string, string> values, MailLanguage? language = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (string.IsNullOrWhiteSpace(to) || to.Length > Usernames.MaxEmailLength
            || !MailboxAddress.TryParse(to.Trim(), out var address) || !address.Address.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{to}' is not an email address.", nameof(to));
        }

        var mail = templates.Render(template, values, (language ?? LanguageFor(null)).Code);
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
