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
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
            // The dispatcher logs each failure itself, with the receiver's address cut before its query string.
            .RemoveAllLoggers();
        services.AddHostedService<WebhookDispatcher>();
        return services;
    }
}
