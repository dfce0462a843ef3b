using Microsoft.Extensions.Options;

namespace Tessera.Server.Webhooks;

public static class WebhookDeliverySetup
{
    /// <summary>Registers the fan-out of audit events to subscriptions (a SaveChanges interceptor, see StorageSetup) and the dispatcher.</summary>
    public static IServiceCollection AddTesseraWebhookDelivery(this IServiceCollection services)
    {
        services.AddSingleton<WebhookDeliverySignal>();
        services.AddSingleton<WebhookFanOut>();
        services.AddHttpClient(WebhookDispatcher.HttpClientName, (sp, client) =>
            {
                client.Timeout = TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<WebhookOptions>>().Value.TimeoutSeconds);
                client.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", WebhookDispatcher.UserAgent);
            })
            // A receiver's redirect is a failure, not an invitation to post the event elsewhere; no cookies are kept
            // between receivers.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, ConnectCallback = ConnectAsync })
            // The dispatcher logs each failure itself, with the receiver's address cut before its query string.
            .RemoveAllLoggers();
        services.AddHostedService<WebhookDispatcher>();
        return services;
    }

    /// <summary>
    /// Connects only to addresses a subscription may reach, judged again at every connection: a name checked when the
    /// subscription was saved may resolve elsewhere later (DNS rebinding). Never a link-local address (cloud metadata
    /// services answer there); for plain http, only loopback and private ones (WebhookUrlRules).
    /// </summary>
    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var plain = context.InitialRequestMessage.RequestUri?.Scheme == Uri.UriSchemeHttp;
        var resolved = await System.Net.Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
        var addresses = resolved.Where(a => !WebhookUrlRules.IsLinkLocal(a) && (!plain || WebhookUrlRules.IsPrivate(a))).ToArray();
        if (addresses.Length == 0)
        {
            throw new HttpRequestException(resolved.Any(WebhookUrlRules.IsLinkLocal)
                ? "The receiver's host resolves to a link-local address, which webhooks never reach."
                : "The receiver's host resolves to no loopback or private address, the only ones plain http may reach.");
        }

        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
