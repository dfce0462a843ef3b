using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Webhooks;

/// <summary>
/// Where a subscription may point. Tessera sends signed audit events to the URL, so a subscription must not turn
/// it into a way to reach what only it can reach:
/// <list type="bullet">
/// <item>absolute https, at most <see cref="MaxLength"/> characters, without user name or password in it (they
/// would be stored and shown as plain text, and sent as basic credentials);</item>
/// <item>never a link-local address (169.254.0.0/16, fe80::/10), where cloud instances find their metadata
/// service and its credentials, whatever the scheme;</item>
/// <item>plain http only when <c>Tessera:Webhooks:AllowPrivateHttp</c> is set, and then only to a loopback or
/// private address: an IP literal, <c>localhost</c>, or a name every address of which is such.</item>
/// </list>
/// A name is resolved only for http. A name that resolves elsewhere later (DNS rebinding) is the delivery's to
/// refuse when it connects.
/// </summary>
public sealed class WebhookUrlRules(IOptions<WebhookOptions> options)
{
    public const int MaxLength = 2000;

    /// <summary>How long resolving an http host name may take before the URL is refused.</summary>
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Why the URL may not be used, or null when it may.</summary>
    public async Task<string?> CheckAsync(string? url, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return "url is required: the https address of the receiver.";
        }

        if (url.Length > MaxLength)
        {
            return $"url may be at most {MaxLength} characters long.";
        }

        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || uri.Host.Length == 0)
        {
            return "url must be an absolute https address, such as https://hooks.example.com/tessera.";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "url may not hold a user name or password: the receiver checks the webhook signature instead.";
        }

        if (!string.IsNullOrEmpty(uri.Fragment))
        {
            return "url may not have a fragment (#...): it is never sent to the receiver.";
        }

        var literal = IPAddress.TryParse(uri.DnsSafeHost, out var parsed) ? Normalize(parsed) : null;
        if (literal is not null && IsLinkLocal(literal))
        {
            return "url may not point to a link-local address (169.254.0.0/16, fe80::/10), where cloud metadata services answer.";
        }

        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            return null;
        }

        if (!options.Value.AllowPrivateHttp)
        {
            return "url must use https. Plain http to a loopback or private address is allowed only when Tessera:Webhooks:AllowPrivateHttp is set.";
        }

        const string privateOnly = "url may use plain http only to a loopback or private address (127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, ::1, fc00::/7); use https otherwise.";
        if (literal is not null)
        {
            return IsPrivate(literal) ? null : privateOnly;
        }

        if (string.Equals(uri.DnsSafeHost, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        IPAddress[] addresses;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(ResolveTimeout);
            addresses = await Dns.GetHostAddressesAsync(uri.DnsSafeHost, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or ArgumentException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return $"url's host {uri.DnsSafeHost} could not be resolved, so it cannot be shown to be a private address; use https or an IP address.";
        }

        var normalized = addresses.Select(Normalize).ToList();
        if (normalized.Any(IsLinkLocal))
        {
            return "url's host resolves to a link-local address (169.254.0.0/16, fe80::/10), where cloud metadata services answer.";
        }

        return normalized.Count > 0 && normalized.All(IsPrivate) ? null : privateOnly;
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    public static bool IsLinkLocal(IPAddress address)
    {
        address = Normalize(address);
        return address.AddressFamily == AddressFamily.InterNetwork
            ? address.GetAddressBytes() is [169, 254, _, _]
            : address.IsIPv6LinkLocal;
    }

    public static bool IsPrivate(IPAddress address)
    {
        address = Normalize(address);
        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return address.GetAddressBytes() switch
            {
                [10, _, _, _] => true,
                [172, >= 16 and <= 31, _, _] => true,
                [192, 168, _, _] => true,
                _ => false,
            };
        }

        // Unique local addresses, fc00::/7.
        return address.AddressFamily == AddressFamily.InterNetworkV6 && (address.GetAddressBytes()[0] & 0xFE) == 0xFC;
    }
}
