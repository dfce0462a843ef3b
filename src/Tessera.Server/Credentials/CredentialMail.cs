using System.Globalization;
using Tessera.Core.Users;
using Tessera.Server.Mail;
using Tessera.Server.Storage;

namespace Tessera.Server.Credentials;

/// <summary>The credential emails, rendered from the operator-overridable templates into the outbox, each in the recipient's language (<see cref="MailLanguage.For"/>).</summary>
public sealed class CredentialMail(MailOutbox outbox) : ICredentialMail
{
    public void Invitation(TesseraDbContext db, User user, string link, int expiresHours)
        => outbox.Enqueue(db, user, MailTemplates.Invitation, Values(user, link, expiresHours));

    public void PasswordReset(TesseraDbContext db, User user, string link, int expiresHours)
        => outbox.Enqueue(db, user, MailTemplates.PasswordReset, Values(user, link, expiresHours));

    public void PasswordChanged(TesseraDbContext db, User user)
    {
        if (Deliverable(user.Email))
        {
            outbox.Enqueue(db, user, MailTemplates.PasswordChanged, Person(user));
        }
    }

    public void EmailChanged(TesseraDbContext db, User user, string previousEmail)
    {
        if (!Deliverable(previousEmail))
        {
            return;
        }

        var values = Person(user);
        values["previousEmail"] = previousEmail;
        values["newEmail"] = user.Email;
        outbox.Enqueue(db, user, MailTemplates.EmailChanged, values, to: previousEmail);
    }

    /// <summary>
    /// A notice is not queued for an address under the reserved top-level domain `.invalid` (RFC 2606), which
    /// Tessera gives the users it makes for itself (the maintenance user, the bootstrap API client): no mailbox
    /// can receive it.
    /// </summary>
    internal static bool Deliverable(string email) => !email.TrimEnd().EndsWith(".invalid", StringComparison.OrdinalIgnoreCase);

    private static Dictionary<string, string> Values(User user, string link, int expiresHours)
    {
        var values = Person(user);
        values["link"] = link;
        values["expiresHours"] = expiresHours.ToString(CultureInfo.InvariantCulture);
        return values;
    }

    internal static Dictionary<string, string> Person(User user) => new()
    {
        ["username"] = user.Username,
        ["firstName"] = string.IsNullOrWhiteSpace(user.FirstName) ? user.Username : OneLine(user.FirstName),
    };

    /// <summary>
    /// Names are refused with control characters now, but a row stored before may hold a line break: it must not
    /// write lines of its own into the message.
    /// </summary>
    internal static string OneLine(string value)
        => PersonNames.HasControlCharacters(value) ? string.Concat(value.Select(c => char.IsControl(c) || c is '\u2028' or '\u2029' ? ' ' : c)) : value;
}
