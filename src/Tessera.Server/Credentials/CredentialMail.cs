using System.Globalization;
using Tessera.Server.Mail;
using Tessera.Server.Storage;

namespace Tessera.Server.Credentials;

/// <summary>The credential emails, rendered from the operator-overridable templates into the outbox.</summary>
public sealed class CredentialMail(MailOutbox outbox) : ICredentialMail
{
    public void Invitation(TesseraDbContext db, User user, string link, int expiresHours)
        => outbox.Enqueue(db, user.Email, "invitation", Values(user, link, expiresHours));

    public void PasswordReset(TesseraDbContext db, User user, string link, int expiresHours)
        => outbox.Enqueue(db, user.Email, "password-reset", Values(user, link, expiresHours));

    private static Dictionary<string, string> Values(User user, string link, int expiresHours) => new()
    {
        ["link"] = link,
        ["username"] = user.Username,
        ["firstName"] = string.IsNullOrWhiteSpace(user.FirstName) ? user.Username : user.FirstName,
        ["expiresHours"] = expiresHours.ToString(CultureInfo.InvariantCulture),
    };
}
