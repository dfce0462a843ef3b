using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Webhooks;

/// <summary>`Tessera:Webhooks`: where subscriptions may point and how deliveries are made.</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Lets a subscription use plain http, to a loopback or private address only (a receiver inside the same
    /// network, or a test). Off: every subscription URL is https.
    /// </summary>
    public bool AllowPrivateHttp { get; set; }

    /// <summary>How long one delivery attempt may take, connection included.</summary>
    [Range(1, 60, ErrorMessage = "Tessera:Webhooks:TimeoutSeconds must be a whole number of seconds from 1 to 60.")]
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>How often each instance looks for due deliveries when it has not been woken by a new one.</summary>
    [Range(1, 60, ErrorMessage = "Tessera:Webhooks:PollSeconds must be a whole number of seconds from 1 to 60.")]
    public int PollSeconds { get; set; } = 1;
}
