using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using OtpNet;
using QRCoder;

namespace Tessera.Server.Mfa;

/// <summary>
/// TOTP (RFC 6238) keys and codes through Otp.NET: 30-second steps, 6 digits, SHA-1 (what every authenticator app
/// reads from an otpauth URI), and one step of drift either way. Keys are stored protected by Data Protection, like
/// the mail outbox's bodies, so a copy of the table yields no key that could mint codes.
/// </summary>
public sealed class TotpKeys(IDataProtectionProvider protection)
{
    public const int StepSeconds = 30;

    /// <summary>One step either side: a phone's clock a little off, or a code typed just as it turned over.</summary>
    public static readonly VerificationWindow Drift = new(previous: 1, future: 1);

    private readonly IDataProtector _protector = protection.CreateProtector("Tessera.Mfa.Totp.Secret.v1");

    /// <summary>A new 160-bit key (RFC 4226 recommends the hash's output length).</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(20);

    public string Protect(byte[] key) => _protector.Protect(Base32Encoding.ToString(key));

    public byte[] Unprotect(string stored) => Base32Encoding.ToBytes(_protector.Unprotect(stored));

    /// <summary>The time step of a code valid at <paramref name="now"/> (within the drift), else null.</summary>
    public static long? MatchingStep(byte[] key, string code, DateTime now)
    {
        var totp = new Totp(key, step: StepSeconds);
        return totp.VerifyTotp(now, code, out var step, Drift) ? step : null;
    }

    /// <summary>The key as a person types it: Base32 in groups of four.</summary>
    public static string Grouped(byte[] key)
    {
        var text = Base32Encoding.ToString(key).TrimEnd('=');
        return string.Join(' ', text.Chunk(4).Select(c => new string(c)));
    }

    /// <summary>The Key Uri Format that authenticator apps read: otpauth://totp/Issuer:account?secret=...&amp;issuer=...</summary>
    public static string Uri(byte[] key, string issuer, string account)
    {
        var secret = Base32Encoding.ToString(key).TrimEnd('=');
        var label = System.Uri.EscapeDataString(issuer) + ":" + System.Uri.EscapeDataString(account);
        return $"otpauth://totp/{label}?secret={secret}&issuer={System.Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period={StepSeconds}";
    }

    /// <summary>
    /// The QR code of the URI as a PNG data URI: the Back Office's Content-Security-Policy allows data: images but
    /// no inline styles, which an inline SVG's renderer would need.
    /// </summary>
    public static string QrDataUri(string uri)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(uri, QRCodeGenerator.ECCLevel.M);
        var png = new PngByteQRCode(data).GetGraphic(5);
        return "data:image/png;base64," + Convert.ToBase64String(png);
    }
}
