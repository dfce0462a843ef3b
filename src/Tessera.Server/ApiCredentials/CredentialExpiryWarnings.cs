using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Credentials;
using Tessera.Server.Audit;
using Tessera.Server.Bootstrap;
using Tessera.Server.Credentials;
using Tessera.Server.Mail;
using Tessera.Server.Storage;

namespace Tessera.Server.ApiCredentials;

/// <summary>
/// Warns before an API user's credential expires: 14 days before, then 3 days before (<see cref="ApiCredentialRules.ExpiryNoticeDue"/>),
/// each once, with the audit event <c>credential.expiring</c> and a mail to the API user's email (its contact
/// address). Runs shortly after the start and then every <see cref="ApiCredentialOptions.ExpiryCheckHours"/>, on
/// every instance; a conditional update claims each warning, so that of several instances exactly one sends it.
/// </summary>
public sealed class CredentialExpiryWarnings(
    IServiceScopeFactory scopes,
    BootstrapGate bootstrap,
    IOptions<ApiCredentialOptions> options,
    TimeProvider clock,
    ILogger<CredentialExpiryWarnings> logger) : PeriodicJob(bootstrap, clock, logger)
{
    public const string AuditAction = "credential.expiring";

    /// <summary>The first look waits this long after the start, leaving the cores to the start and the first requests.</summary>
    internal static readonly TimeSpan FirstCheckDelay = TimeSpan.FromSeconds(30);

    protected override TimeSpan Period => TimeSpan.FromHours(options.Value.ExpiryCheckHours);

    protected override TimeSpan FirstDelay => FirstCheckDelay;

    protected override string Name => "Looking for API credentials about to expire";

    protected override Task RunOnceAsync(CancellationToken ct) => WarnDueAsync(ct);

    /// <summary>One look: sends every warning due now and not yet sent; returns how many this instance sent.</summary>
    public async Task<int> WarnDueAsync(CancellationToken ct)
    {
        var now = Clock.GetUtcNow().UtcDateTime;
        var horizon = now.AddDays(ApiCredentialRules.NoticeDays.Max());
        List<(Guid Id, DateTime ExpiresAt, int? Sent)> candidates;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
            candidates = [.. (await db.ApiCredentials.AsNoTracking()
                    .Where(c => c.ExpiresAt != null && c.ExpiresAt > now && c.ExpiresAt <= horizon)
                    .Select(c => new { c.Id, c.ExpiresAt, c.ExpiryNoticeDays })
                    .ToListAsync(ct))
                .Select(c => (c.Id, c.ExpiresAt!.Value, c.ExpiryNoticeDays))];
        }

        var sent = 0;
        foreach (var (id, expiresAt, lastSent) in candidates)
        {
            ct.ThrowIfCancellationRequested();
            if (ApiCredentialRules.ExpiryNoticeDue(expiresAt, lastSent, now) is not { } due)
            {
                continue;
            }

            try
            {
                sent += await WarnAsync(id, lastSent, due, now, ct) ? 1 : 0;
            }
            catch (Exception e) when (e is not OperationCanceledException && !DatabaseFaults.IsUnavailable(e))
            {
                // One credential's failure (a stored address the mailer refuses, say) holds up no other; its claim rolled back, so the next look tries again.
                logger.LogWarning(e, "The expiry warning of API credential {CredentialId} could not be queued.", id);
            }
        }

        return sent;
    }

    /// <summary>Claims the warning of <paramref name="due"/> days and, if this instance won the claim, audits and mails it in the same transaction.</summary>
    private async Task<bool> WarnAsync(Guid id, int? lastSent, int due, DateTime now, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);

        // The claim: only the update that still finds the last warning this instance read changes the row. On
        // PostgreSQL a second instance's update waits for this transaction and then finds the row changed; a rollback
        // (a failure below) leaves the warning to the next look.
        // EF Core compares a null parameter as IS NULL, so one statement serves "none sent yet" and "14 sent".
        var claimed = await db.ApiCredentials.Where(c => c.Id == id && c.ExpiryNoticeDays == lastSent)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.ExpiryNoticeDays, due), ct);
        if (claimed == 0)
        {
            return false;
        }

        var found = await db.ApiCredentials.AsNoTracking().Where(c => c.Id == id)
            .Join(db.Users, c => c.UserId, u => u.Id, (c, u) => new { Credential = c, User = u })
            .SingleOrDefaultAsync(ct);
        if (found is null || found.Credential.ExpiresAt is not { } expiresAt)
        {
            // Deleted (or its expiry removed) between the look and the claim: nothing to warn of.
            return false;
        }

        var daysLeft = ApiCredentialRules.DaysLeft(expiresAt, now);
        var user = found.User;
        scope.ServiceProvider.GetRequiredService<AuditLog>().Record(db, AuditAction, "user", user.Id.ToString(), user.Username,
            new { credentialId = id, name = found.Credential.Name, expiresAt, daysLeft }, actor: Actor.System);

        // Like the other notices, none to the reserved .invalid addresses of the users Tessera makes for itself; the audit event still records the warning.
        if (CredentialMail.Deliverable(user.Email))
        {
            // The greeting as the other notices make it (a name stored with a line break writes no line of its own).
            // In the user's language and time zone; a background job has no request, so English without a profile language.
            var outbox = scope.ServiceProvider.GetRequiredService<MailOutbox>();
            var language = outbox.LanguageFor(user);
            var values = CredentialMail.Person(user);
            values["credentialName"] = found.Credential.Name;
            values["expiresAt"] = language.Time(expiresAt);
            values["expiresIn"] = language.InDays(daysLeft);
            values["daysLeft"] = daysLeft.ToString(CultureInfo.InvariantCulture);
            outbox.Enqueue(db, user.Email, MailTemplates.CredentialExpiring, values, language);
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        logger.LogInformation("Warned that API credential {CredentialId} of {Username} expires in {DaysLeft} day(s).", id, user.Username, daysLeft);
        return true;
    }
}
