using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Tessera.Server.ApiCredentials;

/// <summary>
/// The two ends of every client authentication at /connect/token, /connect/introspect and /connect/revoke, around
/// OpenIddict's validation and Tessera's <see cref="ClientAuthentication"/>:
/// <list type="number">
/// <item><see cref="Throttle{TContext}"/>, before any validator: a (client, address) pair that is blocked gets 429
/// and Retry-After, with no credential looked at.</item>
/// <item><see cref="RecordFailure{TContext}"/>, as the answer is applied: every refused client authentication counts
/// toward the throttle, and one that nothing has audited yet (an assertion OpenIddict refused: bad signature, unknown
/// key, wrong iss or sub, expired) is audited as <c>token.failed</c> and answered like every other refusal, 401
/// <c>invalid_client</c> (RFC 7523 §3.2), in one place.</item>
/// </list>
/// </summary>
public static class ClientAuthenticationGuard
{
    /// <summary>The transaction property holding the throttle key of the request's (client, address) pair.</summary>
    public const string ThrottleKeyProperty = "tessera:throttle_key";

    /// <summary>The client_id the request names: the parameter (or Basic header), else the unverified iss of its assertion.</summary>
    private static string? ClientIdOf(OpenIddictRequest? request)
        => !string.IsNullOrEmpty(request?.ClientId) ? request.ClientId : ClientAssertions.UnverifiedIssuer(request?.ClientAssertion);

    private static string MethodOf(OpenIddictRequest? request)
        => string.IsNullOrEmpty(request?.ClientAssertion) ? ClientAuthentication.SecretMethod : ClientAuthentication.PrivateKeyJwtMethod;

    /// <summary>Before every validator (after the control-character check, which looks at no credential either).</summary>
    public sealed class Throttle<TContext>(ClientThrottle throttle, ClientAuthentication clients) : IOpenIddictServerHandler<TContext>
        where TContext : BaseValidatingClientContext
    {
        public static int Order => SignIn.RefuseControlCharacters<TContext>.Order + 1_000;

        public async ValueTask HandleAsync(TContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            var clientId = ClientIdOf(context.Transaction.Request);
            var key = ClientThrottle.Key(clientId, http?.Connection.RemoteIpAddress);
            context.Transaction.Properties[ThrottleKeyProperty] = key;
            if (throttle.BlockedFor(key) is not { } wait || http is null)
            {
                return;
            }

            await clients.FailedAsync(clientId, null, "throttled", MethodOf(context.Transaction.Request), context.CancellationToken);

            // Answered here, as the global rate limit answers (429, Retry-After in seconds), but in OAuth's format, which
            // a client of these endpoints reads: invalid_client, since this client may not authenticate from here now.
            var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            var response = http.Response;
            response.StatusCode = StatusCodes.Status429TooManyRequests;
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            response.Headers.CacheControl = "no-store";
            response.Headers.Pragma = "no-cache";
            response.ContentType = "application/json;charset=UTF-8";
            await JsonSerializer.SerializeAsync(response.Body, new Dictionary<string, string>
            {
                [Parameters.Error] = Errors.InvalidClient,
                [Parameters.ErrorDescription] = $"Too many failed client authentications for this client from this address; try again in {seconds} seconds.",
            }, cancellationToken: context.CancellationToken);
            context.HandleRequest();
        }
    }

    /// <summary>Before OpenIddict turns the error into a status code, so that a rewritten error gets its 401.</summary>
    public sealed class RecordFailure<TContext>(ClientThrottle throttle, ClientAuthentication clients) : IOpenIddictServerHandler<TContext>
        where TContext : BaseRequestContext
    {
        public static int Order => OpenIddictServerAspNetCoreHandlers.AttachHttpResponseCode<TContext>.Descriptor.Order - 1_000;

        public async ValueTask HandleAsync(TContext context)
        {
            if (!context.Transaction.Properties.TryGetValue(ThrottleKeyProperty, out var value) || value is not string key
                || clients.Authenticated == true || context.Transaction.Response is not { } response)
            {
                return;
            }

            if (clients.Authenticated == false)
            {
                throttle.Failed(key);
                return;
            }

            var request = context.Transaction.Request;
            var assertion = !string.IsNullOrEmpty(request?.ClientAssertion);
            // The assertion itself was refused, not the token under introspection or revocation (invalid_token), which
            // OpenIddict checks after it. At introspection OpenIddict answers either as an inactive token, without an error.
            var assertionRefused = assertion && context.Transaction.Properties.TryGetValue(typeof(ProcessAuthenticationContext).FullName!, out var stored)
                && stored is ProcessAuthenticationContext { IsRejected: true } authentication
                && (authentication.ClientAssertionPrincipal is null || authentication.Error != Errors.InvalidToken);

            // Two credentials at once: OpenIddict refuses the request as malformed (RFC 6749 §2.3), before any is checked.
            var both = assertion && !string.IsNullOrEmpty(request!.ClientSecret);
            if (!assertionRefused && (string.IsNullOrEmpty(response.Error) || (response.Error != Errors.InvalidClient && !both)))
            {
                // Not a client authentication that failed (a bad grant type or scope, say, refused before any was tried).
                return;
            }

            var client = context.Transaction.Properties.TryGetValue(ClientAssertions.ClientProperty, out var found) ? found as AssertionClient : null;
            var reason = both ? "secret_and_assertion" : client?.Reason ?? (assertion ? "invalid_assertion" : "no_client_authentication");
            await clients.FailedAsync(ClientIdOf(request), client?.User, reason, MethodOf(request), context.CancellationToken, client?.VerifiedBy,
                response.ErrorDescription);
            throttle.Failed(key);

            if (assertion && !both)
            {
                // OpenIddict's descriptions tell a missing key from a bad claim; every refused assertion reads alike.
                foreach (var name in response.GetParameters().Select(p => p.Key).ToList())
                {
                    response.RemoveParameter(name);
                }

                response.Error = Errors.InvalidClient;
                response.ErrorDescription = ClientAuthentication.Refusal;
                response.ErrorUri = null;
            }
        }
    }
}
