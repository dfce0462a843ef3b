using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using Tessera.Server.SignIn;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Tessera.Server.AgentAssist;

/// <summary>
/// RFC 8693 token exchange at /connect/token for agent assist. The subject is not a token but a
/// customer reference (`urn:tessera:params:customer-reference`), which OpenIddict's own exchange
/// validation would try to read as a token; so this handler takes every token-exchange request
/// before OpenIddict's validators run, checks the public client `agent-assist` (no secret), the
/// actor token (a Tessera access token, signed by this server, for Tessera's API, still standing),
/// and hands the decision to <see cref="ImpersonationService"/>. Any refusal is `invalid_grant`.
/// </summary>
public sealed class TokenExchange(ImpersonationService impersonation, TokenStanding standing, IOptions<TokenOptions> tokens, TimeProvider clock)
    : IOpenIddictServerHandler<ValidateTokenRequestContext>
{
    /// <summary>Before OpenIddict's first validator (the grant type check, at int.MinValue + 100,000).</summary>
    public const int Order = int.MinValue + 50_000;

    public async ValueTask HandleAsync(ValidateTokenRequestContext context)
    {
        var request = context.Request;
        if (request.GrantType != AgentAssistNames.TokenExchangeGrant)
        {
            return;
        }

        if (request.ClientId != AgentAssistNames.ClientId || !string.IsNullOrEmpty(request.ClientSecret))
        {
            context.Reject(Errors.InvalidClient, $"Token exchange is open to the public client '{AgentAssistNames.ClientId}' only, without a client secret.");
            return;
        }

        var subject = (string?)request[Parameters.SubjectToken];
        var actorToken = (string?)request[Parameters.ActorToken];
        if ((string?)request[Parameters.SubjectTokenType] != AgentAssistNames.CustomerReferenceTokenType || string.IsNullOrWhiteSpace(subject))
        {
            context.Reject(Errors.InvalidRequest, $"subject_token must be a customer reference with subject_token_type {AgentAssistNames.CustomerReferenceTokenType}.");
            return;
        }

        if ((string?)request[Parameters.ActorTokenType] != AgentAssistNames.AccessTokenType || string.IsNullOrWhiteSpace(actorToken))
        {
            context.Reject(Errors.InvalidRequest, $"actor_token must be the agent's access token with actor_token_type {AgentAssistNames.AccessTokenType}.");
            return;
        }

        if ((string?)request[Parameters.RequestedTokenType] is { Length: > 0 } requested && requested != AgentAssistNames.AccessTokenType)
        {
            context.Reject(Errors.InvalidRequest, $"Only requested_token_type {AgentAssistNames.AccessTokenType} is issued.");
            return;
        }

        var agent = await ValidateActorAsync(actorToken, context.Options, context.CancellationToken);
        if (agent is null)
        {
            context.Reject(Errors.InvalidGrant, "The actor token is not a valid Tessera access token.");
            return;
        }

        var outcome = await impersonation.StartAsync(agent.Value, subject, (string?)request["reason"], context.CancellationToken);
        if (!outcome.Succeeded)
        {
            context.Reject(Errors.InvalidGrant, outcome.Failure!.Detail);
            return;
        }

        var issued = outcome.Value!;
        var response = context.Transaction.GetHttpRequest()!.HttpContext.Response;
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        await response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["access_token"] = issued.AccessToken,
            ["issued_token_type"] = AgentAssistNames.AccessTokenType,
            ["token_type"] = "Bearer",
            ["expires_in"] = issued.ExpiresIn,
        }, context.CancellationToken);
        context.HandleRequest();
    }

    /// <summary>The actor token's user id, when it is signed by this server for Tessera's API, unexpired and still standing.</summary>
    private async Task<Guid?> ValidateActorAsync(string token, OpenIddictServerOptions options, CancellationToken ct)
    {
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = options.Issuer?.AbsoluteUri,
            ValidAudience = tokens.Value.Audience,
            IssuerSigningKeys = options.SigningCredentials.Select(c => c.Key),
            ValidTypes = ["at+jwt"],
            ValidateLifetime = false, // checked below against the service's clock
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return null;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        if (jwt.ValidTo <= now || jwt.ValidFrom > now.AddMinutes(5))
        {
            return null;
        }

        var principal = new ClaimsPrincipal(result.ClaimsIdentity);
        if (await standing.RefusalAsync(principal, ct) is not null)
        {
            return null;
        }

        return Guid.TryParse(jwt.Subject, out var id) ? id : null;
    }
}
