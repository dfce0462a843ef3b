using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Webhooks;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Webhooks;

/// <summary>An enabled subscription as the fan-out of audit events needs it.</summary>
public sealed record ActiveWebhook(Guid Id, EventFilter Filter);

/// <summary>
/// The enabled subscriptions, kept in memory: every audit event written is matched against them, so that writing
/// one costs no query. The subscription use cases call <see cref="SettingCache{T}.Invalidate"/> after each commit,
/// which reaches the other instances through <see cref="CacheSignals"/>.
/// </summary>
public sealed class WebhookSubscriptionCache(IOptions<TokenOptions> options, TimeProvider clock, CacheSignals signals)
    : SettingCache<IReadOnlyList<ActiveWebhook>>(options, clock, signals, CacheKinds.Webhooks)
{
    protected override async Task<IReadOnlyList<ActiveWebhook>> LoadAsync(TesseraDbContext db, CancellationToken ct)
    {
        var rows = await db.WebhookSubscriptions.AsNoTracking().Where(s => s.Enabled).Select(s => new { s.Id, s.EventTypes }).ToListAsync(ct);
        return [.. rows.Select(r => new ActiveWebhook(r.Id, EventFilter.FromStored(r.EventTypes)))];
    }
}

/// <summary>
/// Webhook signing secrets in the Standard Webhooks form, `whsec_` and the base64 of 24 to 64 random bytes. They
/// sign with HMAC-SHA256, so Tessera must be able to read them back: they are stored protected with Data
/// Protection (not hashed, as a password would be), and shown in full only in the answer that set them.
/// </summary>
public sealed class WebhookSecrets(IDataProtectionProvider protection)
{
    public const string Prefix = "whsec_";
    public const int MinBytes = 24;
    public const int MaxBytes = 64;

    private readonly IDataProtector _protector = protection.CreateProtector("Tessera.Webhooks.Secret.v1");

    public static string Generate() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The key bytes of a well-formed secret, or null.</summary>
    public static byte[]? Key(string? secret)
    {
        if (secret is null || !secret.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var buffer = new byte[MaxBytes + 3];
        return Convert.TryFromBase64String(secret[Prefix.Length..], buffer, out var written) && written is >= MinBytes and <= MaxBytes ? buffer[..written] : null;
    }

    public string Protect(string secret) => _protector.Protect(secret);

    public string Unprotect(string stored) => _protector.Unprotect(stored);
}
