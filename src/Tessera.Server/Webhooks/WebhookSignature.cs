using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tessera.Server.Webhooks;

/// <summary>
/// The Standard Webhooks signature: `v1,` and the base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`,
/// keyed with the secret's bytes (the base64 after `whsec_`). A receiver recomputes it from the three headers and the
/// body exactly as received, so the body is signed as the bytes sent, never re-serialized.
/// </summary>
public static class WebhookSignature
{
    public const string Version = "v1";

    public static string Sign(ReadOnlySpan<byte> key, string webhookId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{webhookId}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return Version + "," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}
