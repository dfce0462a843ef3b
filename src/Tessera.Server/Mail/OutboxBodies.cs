using Microsoft.AspNetCore.DataProtection;

namespace Tessera.Server.Mail;

/// <summary>
/// The bodies of queued messages are stored protected by Data Protection (whose keys live in the database,
/// protected in turn where `Tessera:DataProtection:CertificatePath` is set), so that a copy of the outbox table
/// yields no live invitation or reset link. Only the dispatcher reads them back. A stored body carries a prefix
/// that tells it from the plain bodies written before protection began, which are sent as they are.
/// </summary>
public sealed class OutboxBodies(IDataProtectionProvider protection)
{
    /// <summary>The start of a protected body; the rest is the Data Protection payload.</summary>
    internal const string ProtectedPrefix = "dp1:";

    private readonly IDataProtector _protector = protection.CreateProtector("Tessera.Mail.Outbox.Body.v1");

    public string Protect(string body) => ProtectedPrefix + _protector.Protect(body);

    public string? ProtectOrNull(string? body) => body is null ? null : Protect(body);

    public static bool IsProtected(string? stored) => stored?.StartsWith(ProtectedPrefix, StringComparison.Ordinal) == true;

    /// <summary>The body as it is to be sent.</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The key that protected it is gone.</exception>
    public string? Unprotect(string? stored) => IsProtected(stored) ? _protector.Unprotect(stored![ProtectedPrefix.Length..]) : stored;
}
