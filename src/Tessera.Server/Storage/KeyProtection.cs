using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;

namespace Tessera.Server.Storage;

/// <summary>
/// The Data Protection keys (which in turn protect the token signing keys and the session cookies)
/// live in the database, so that every instance shares them. By default they are stored as ASP.NET
/// Core writes them, unencrypted: whoever reads the database can read them. With
/// <c>Tessera:DataProtection:CertificatePath</c> (a PKCS#12 file with its private key) each new key
/// is encrypted to that certificate, and reading the database alone no longer yields a key.
/// Keys written before the certificate was set stay readable, so turning it on ends nothing.
/// </summary>
public static class KeyProtection
{
    public const string CertificatePathSetting = "Tessera:DataProtection:CertificatePath";
    public const string CertificatePasswordSetting = "Tessera:DataProtection:CertificatePassword";

    public static IDataProtectionBuilder ProtectKeysAtRest(this IDataProtectionBuilder builder, IConfiguration configuration)
    {
        var path = configuration[CertificatePathSetting];
        if (string.IsNullOrWhiteSpace(path))
        {
            return builder;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, configuration[CertificatePasswordSetting], X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{CertificatePathSetting} names '{path}', which could not be read as a PKCS#12 certificate with {CertificatePasswordSetting}: {e.Message}", e);
        }

        if (!certificate.HasPrivateKey || certificate.GetRSAPrivateKey() is null)
        {
            throw new InvalidOperationException($"{CertificatePathSetting} must hold an RSA certificate with its private key, to decrypt the keys it protects.");
        }

        // Encrypt new keys to it, and decrypt with it without looking in a certificate store.
        return builder.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
    }

    /// <summary>
    /// Data Protection reads its key ring as the host starts. Here the host starts before the database is migrated
    /// or even reachable, so that read would fail (logged as an error with a stack trace, at every first start) and
    /// prove nothing. The bootstrap gate reads the ring instead, once the database is ready: the token signing keys
    /// it loads are protected with it. Call it after everything else is registered: each AddDataProtection (the
    /// cookie handler and antiforgery call it too) adds the hosted service again.
    /// </summary>
    public static IServiceCollection LoadDataProtectionKeysBehindTheGate(this IServiceCollection services)
    {
        var hostedServices = services.Where(d => d.ServiceType == typeof(IHostedService)
            && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToList();
        foreach (var descriptor in hostedServices)
        {
            services.Remove(descriptor);
        }

        return services;
    }
}
