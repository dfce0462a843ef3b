using System.Collections.Frozen;
using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Validation;
using OpenIddict.Validation.AspNetCore;
using Tessera.Core.Users;
using Tessera.Server.ApiCredentials;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Tessera.Server.SignIn;

/// <summary>
/// The OAuth 2.0 authorization server (OpenIddict). Clients are Tessera's API users themselves:
/// client_id is the username, and the client authenticates with one of the user's credentials (a secret,
/// or private_key_jwt with a registered public key), so OpenIddict runs in degraded mode with Tessera's
/// own client authentication, and token standing (user status, security stamp, revocation) is checked
/// by Tessera on every use.
/// </summary>
public static class TokenServer
{
    /// <summary>The scheme API endpoints authenticate with: OpenIddict validation behind a cache of verified tokens.</summary>
    public const string BearerScheme = VerifiedBearerTokens.Scheme;

    /// <summary>The one scope Tessera's API knows.</summary>
    public const string ApiScope = "api";
    internal const string UserIdProperty = "tessera:user_id";
    internal const string StampProperty = "tessera:security_stamp";

    private const string TokenEndpoint = "connect/token";
    private const string IntrospectionEndpoint = "connect/introspect";
    private const string RevocationEndpoint = "connect/revoke";

    /// <summary>The endpoints whose clients read OAuth error responses (RFC 6749 §5.2) rather than problem details.</summary>
    public static bool AnswersWithOAuthErrors(PathString path)
        => path.Equals("/" + TokenEndpoint, StringComparison.OrdinalIgnoreCase)
           || path.Equals("/" + IntrospectionEndpoint, StringComparison.OrdinalIgnoreCase)
           || path.Equals("/" + RevocationEndpoint, StringComparison.OrdinalIgnoreCase);

    public static IServiceCollection AddTesseraTokenServer(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TokenOptions>().Bind(configuration.GetSection("Tessera:Tokens")).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<CallerDirectory>();
        services.AddSingleton<ClientSecretCache>();
        services.AddSingleton<RepeatClientTokens>();
        services.AddSingleton<VerifiedBearerTokens>();
        services.AddAuthentication().AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, VerifiedBearerHandler>(VerifiedBearerTokens.Scheme, null);
        services.AddSingleton<AuditBatchWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditBatchWriter>());
        services.AddScoped<PasswordSignIn>();
        services.AddScoped<ApiCredentials.ClientAuthentication>();
        services.AddSingleton<ApiCredentials.UsedAssertionIds>();
        services.AddSingleton<ApiCredentials.ClientThrottle>();
        services.AddOptions<ApiCredentials.ClientThrottleOptions>().Bind(configuration.GetSection(ApiCredentials.ClientThrottleOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiCredentials.ClientThrottleOptions>, ApiCredentials.ClientThrottleOptions.Validator>();
        services.AddScoped<TokenStanding>();
        services.AddSingleton<TokenRevocations>();
        services.AddSingleton<SigningKeys>();
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ConfigureServerFromStore>();
        services.AddSingleton<IValidateOptions<TokenOptions>, AuthorizationCode.ValidateOptions>();
        services.AddSingleton<ExpiredRevocations>();

        services.AddOpenIddict()
            .AddServer(o =>
            {
                o.SetAuthorizationEndpointUris("connect/authorize")
                 .SetTokenEndpointUris(TokenEndpoint)
                 .SetIntrospectionEndpointUris(IntrospectionEndpoint)
                 .SetRevocationEndpointUris(RevocationEndpoint)
                 .SetJsonWebKeySetEndpointUris(".well-known/jwks")
                 .SetConfigurationEndpointUris(".well-known/openid-configuration");
                o.AllowClientCredentialsFlow();
                o.AllowAuthorizationCodeFlow().RequireProofKeyForCodeExchange();
                o.Configure(s =>
                {
                    // PKCE with S256 only: "plain" would hand the verifier to anyone who sees the authorization request.
                    s.CodeChallengeMethods.Clear();
                    s.CodeChallengeMethods.Add(CodeChallengeMethods.Sha256);
                });
                o.AllowTokenExchangeFlow();
                o.EnableDegradedMode();
                o.DisableAccessTokenEncryption();
                o.RegisterScopes(ApiScope);

                var aspnet = o.UseAspNetCore().EnableAuthorizationEndpointPassthrough();
                if (configuration["Tessera:PublicUrl"]?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) != false)
                {
                    // The operator chose a plain-http public address (a laptop, or TLS ended at a proxy).
                    aspnet.DisableTransportSecurityRequirement();
                }

                // Hostile text is refused before anything else reads it: the form as it arrives, then every parameter (Basic credentials included).
                o.AddEventHandler<ExtractTokenRequestContext>(b => b.UseSingletonHandler<ReadFormStrictly<ExtractTokenRequestContext>>()
                    .SetOrder(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.ExtractPostRequest<ExtractTokenRequestContext>.Descriptor.Order - 500));
                o.AddEventHandler<ExtractRevocationRequestContext>(b => b.UseSingletonHandler<ReadFormStrictly<ExtractRevocationRequestContext>>()
                    .SetOrder(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.ExtractPostRequest<ExtractRevocationRequestContext>.Descriptor.Order - 500));
                o.AddEventHandler<ExtractIntrospectionRequestContext>(b => b.UseSingletonHandler<ReadFormStrictly<ExtractIntrospectionRequestContext>>()
                    .SetOrder(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.ExtractGetOrPostRequest<ExtractIntrospectionRequestContext>.Descriptor.Order - 500));
                o.AddEventHandler<ExtractAuthorizationRequestContext>(b => b.UseSingletonHandler<ReadFormStrictly<ExtractAuthorizationRequestContext>>()
                    .SetOrder(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.ExtractGetOrPostRequest<ExtractAuthorizationRequestContext>.Descriptor.Order - 500));
                o.AddEventHandler<ValidateAuthorizationRequestContext>(b => b.UseSingletonHandler<RefuseControlCharacters<ValidateAuthorizationRequestContext>>().SetOrder(RefuseControlCharacters<ValidateAuthorizationRequestContext>.Order));
                o.AddEventHandler<ValidateTokenRequestContext>(b => b.UseSingletonHandler<RefuseControlCharacters<ValidateTokenRequestContext>>().SetOrder(RefuseControlCharacters<ValidateTokenRequestContext>.Order));
                o.AddEventHandler<ValidateIntrospectionRequestContext>(b => b.UseSingletonHandler<RefuseControlCharacters<ValidateIntrospectionRequestContext>>().SetOrder(RefuseControlCharacters<ValidateIntrospectionRequestContext>.Order));
                o.AddEventHandler<ValidateRevocationRequestContext>(b => b.UseSingletonHandler<RefuseControlCharacters<ValidateRevocationRequestContext>>().SetOrder(RefuseControlCharacters<ValidateRevocationRequestContext>.Order));
                o.AddEventHandler<ValidateAuthorizationRequestContext>(b => b.UseSingletonHandler<AuthorizationCode.ValidateClient>()
                    .SetOrder(OpenIddictServerHandlers.Authentication.ValidateClientRedirectUri.Descriptor.Order));
                o.AddEventHandler<ValidateTokenRequestContext>(b => b.UseScopedHandler<AgentAssist.TokenExchange>().SetOrder(AgentAssist.TokenExchange.Order));
                // Client authentication, in order: the throttle (before any validator), OpenIddict's client assertion
                // validation with the client's own keys (ResolveKeys, the degraded mode's part of it), Tessera's checks
                // (AuthenticateClient), and, as the answer goes out, every refusal counted and audited (RecordFailure).
                o.AddEventHandler<ValidateTokenRequestContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.Throttle<ValidateTokenRequestContext>>()
                    .SetOrder(ClientAuthenticationGuard.Throttle<ValidateTokenRequestContext>.Order));
                o.AddEventHandler<ValidateIntrospectionRequestContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.Throttle<ValidateIntrospectionRequestContext>>()
                    .SetOrder(ClientAuthenticationGuard.Throttle<ValidateIntrospectionRequestContext>.Order));
                o.AddEventHandler<ValidateRevocationRequestContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.Throttle<ValidateRevocationRequestContext>>()
                    .SetOrder(ClientAuthenticationGuard.Throttle<ValidateRevocationRequestContext>.Order));
                o.AddEventHandler<ValidateTokenContext>(b => b.UseScopedHandler<ClientAssertions.ResolveKeys>().SetOrder(ClientAssertions.ResolveKeys.Order));
                o.AddEventHandler<ApplyTokenResponseContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.RecordFailure<ApplyTokenResponseContext>>()
                    .SetOrder(ClientAuthenticationGuard.RecordFailure<ApplyTokenResponseContext>.Order));
                o.AddEventHandler<ApplyIntrospectionResponseContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.RecordFailure<ApplyIntrospectionResponseContext>>()
                    .SetOrder(ClientAuthenticationGuard.RecordFailure<ApplyIntrospectionResponseContext>.Order));
                o.AddEventHandler<ApplyRevocationResponseContext>(b => b.UseScopedHandler<ClientAuthenticationGuard.RecordFailure<ApplyRevocationResponseContext>>()
                    .SetOrder(ClientAuthenticationGuard.RecordFailure<ApplyRevocationResponseContext>.Order));
                // Counted as the answer goes out, after RecordFailure has settled the error a client sees.
                o.AddEventHandler<ApplyTokenResponseContext>(b => b.UseSingletonHandler<CountTokenResponses>().SetOrder(CountTokenResponses.Order));
                o.AddEventHandler<ValidateTokenRequestContext>(b => b.UseScopedHandler<AuthenticateClient<ValidateTokenRequestContext>>());
                o.AddEventHandler<ValidateIntrospectionRequestContext>(b => b.UseScopedHandler<AuthenticateClient<ValidateIntrospectionRequestContext>>());
                o.AddEventHandler<ValidateRevocationRequestContext>(b => b.UseScopedHandler<AuthenticateClient<ValidateRevocationRequestContext>>());
                o.AddEventHandler<HandleTokenRequestContext>(b => b.UseScopedHandler<IssueAccessToken>());
                o.AddEventHandler<HandleRevocationRequestContext>(b => b.UseScopedHandler<RevokeToken>());
                o.AddEventHandler<HandleIntrospectionRequestContext>(b => b.UseInlineHandler(_ => default));
                o.AddEventHandler<ValidateTokenContext>(b => b.UseScopedHandler<CheckServerTokenStanding>().SetOrder(int.MaxValue - 100_000));
                o.AddEventHandler<HandleConfigurationRequestContext>(b => b.UseSingletonHandler<DiscoveryFromPublicUrl>()
                    .SetOrder(OpenIddictServerHandlers.Discovery.AttachEndpoints.Descriptor.Order + 1));
            })
            .AddValidation(o =>
            {
                o.UseLocalServer();

                // A bearer token only in the Authorization header (RFC 6750 §2.1): in a query string it lands in
                // logs, proxies' access logs and browser history; a form body is no better place for it.
                o.UseAspNetCore()
                    .DisableAccessTokenExtractionFromQueryString()
                    .DisableAccessTokenExtractionFromBodyForm();
                o.AddEventHandler<OpenIddictValidationEvents.ValidateTokenContext>(b => b.UseScopedHandler<CheckValidationTokenStanding>().SetOrder(int.MaxValue - 100_000));
            });

        services.AddOptions<OpenIddictValidationOptions>().Configure<IOptions<TokenOptions>>((o, tokens) => o.Audiences.Add(tokens.Value.Audience));
        return services;
    }

    /// <summary>Takes the persisted keys and the issuer when the server options are first needed.</summary>
    private sealed class ConfigureServerFromStore(SigningKeys keys, IOptions<TesseraOptions> tessera, IOptions<TokenOptions> tokens)
        : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            var (rsa, ec, encryption) = keys.Get();
            var es256 = new Microsoft.IdentityModel.Tokens.SigningCredentials(ec, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.EcdsaSha256);
            var rs256 = new Microsoft.IdentityModel.Tokens.SigningCredentials(rsa, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256);

            // The first signs; both are published and accepted, so switching the algorithm keeps tokens already issued valid.
            var rsaFirst = string.Equals(tokens.Value.SigningAlgorithm, "RS256", StringComparison.OrdinalIgnoreCase);
            options.SigningCredentials.Add(rsaFirst ? rs256 : es256);
            options.SigningCredentials.Add(rsaFirst ? es256 : rs256);
            options.EncryptionCredentials.Add(new Microsoft.IdentityModel.Tokens.EncryptingCredentials(encryption,
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.Aes256KW, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.Aes256CbcHmacSha512));
            options.Issuer = new Uri(tessera.Value.PublicUrl.TrimEnd('/') + "/");
            options.AccessTokenLifetime = TimeSpan.FromMinutes(tokens.Value.AccessTokenMinutes);
        }
    }

    /// <summary>
    /// The discovery document names the endpoints under the issuer (<c>Tessera:PublicUrl</c>), as tokens do.
    /// OpenIddict builds them from the request's scheme and Host header, which a client chooses: with
    /// <c>Host: evil.example</c> the document would send clients' secrets to another server. The endpoints stay
    /// relative for routing, so a request reaches them under whatever address a proxy forwards it to.
    /// </summary>
    private sealed class DiscoveryFromPublicUrl : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            var o = context.Options;
            var issuer = o.Issuer ?? throw new InvalidOperationException("The issuer is set from Tessera:PublicUrl at start.");
            context.AuthorizationEndpoint = Public(issuer, context.AuthorizationEndpoint, o.AuthorizationEndpointUris);
            context.DeviceAuthorizationEndpoint = Public(issuer, context.DeviceAuthorizationEndpoint, o.DeviceAuthorizationEndpointUris);
            context.EndSessionEndpoint = Public(issuer, context.EndSessionEndpoint, o.EndSessionEndpointUris);
            context.IntrospectionEndpoint = Public(issuer, context.IntrospectionEndpoint, o.IntrospectionEndpointUris);
            context.JsonWebKeySetEndpoint = Public(issuer, context.JsonWebKeySetEndpoint, o.JsonWebKeySetEndpointUris);
            context.PushedAuthorizationEndpoint = Public(issuer, context.PushedAuthorizationEndpoint, o.PushedAuthorizationEndpointUris);
            context.RevocationEndpoint = Public(issuer, context.RevocationEndpoint, o.RevocationEndpointUris);
            context.TokenEndpoint = Public(issuer, context.TokenEndpoint, o.TokenEndpointUris);
            context.UserInfoEndpoint = Public(issuer, context.UserInfoEndpoint, o.UserInfoEndpointUris);
            return default;
        }

        /// <summary>The endpoint's first configured address under the issuer (which ends with a slash); none stays none.</summary>
        private static Uri? Public(Uri issuer, Uri? attached, List<Uri> configured) => attached is null || configured.Count == 0
            ? attached
            : configured[0].IsAbsoluteUri ? configured[0] : new Uri(issuer, configured[0].OriginalString.TrimStart('/'));
    }

    /// <summary>
    /// Client authentication: the client is an active API user presenting one of its unexpired credentials; or, redeeming an
    /// authorization code, a registered public client, which has no secret to present.
    /// </summary>
    private sealed class AuthenticateClient<TContext>(ClientAuthentication clients, ClientThrottle throttle, IOptions<TokenOptions> tokens) : IOpenIddictServerHandler<TContext>
        where TContext : BaseValidatingClientContext
    {
        public async ValueTask HandleAsync(TContext context)
        {
            if (context is ValidateTokenRequestContext { Request: var request } && request.IsAuthorizationCodeGrantType())
            {
                if (AuthorizationCode.Find(tokens.Value, context.ClientId) is null || !string.IsNullOrEmpty(context.ClientSecret)
                    || !string.IsNullOrEmpty(context.Transaction.Request!.ClientAssertion))
                {
                    context.Reject(Errors.InvalidClient, "The client is not a registered public client: it must send its client_id and no secret.");
                }

                return;
            }

            var ct = context.CancellationToken;
            var authentication = context.Transaction.GetProperty<ProcessAuthenticationContext>(typeof(ProcessAuthenticationContext).FullName!);
            ClientCheck check;
            if (authentication?.ClientAssertionPrincipal is { } assertion)
            {
                var client = context.Transaction.GetProperty<AssertionClient>(ClientAssertions.ClientProperty) ?? new AssertionClient { Reason = "invalid_assertion" };
                check = !string.IsNullOrEmpty(context.ClientSecret)
                    // Two credentials in one request (RFC 6749 §2.3): refused rather than one of them chosen.
                    ? await clients.FailedAsync(context.ClientId ?? client.ClientId, client.User, "secret_and_assertion", ClientAuthentication.PrivateKeyJwtMethod, ct)
                    : await clients.CheckAssertionAsync(context.ClientId ?? client.ClientId, client, assertion, context.Transaction.Request!.ClientAssertionType, ct);
            }
            else if (!string.IsNullOrEmpty(context.Transaction.Request!.ClientAssertion) || !string.IsNullOrEmpty(context.Transaction.Request!.ClientAssertionType))
            {
                // An assertion OpenIddict did not validate (or its type without it) is never a way around the secret.
                check = await clients.FailedAsync(context.ClientId, null, "invalid_assertion", ClientAuthentication.PrivateKeyJwtMethod, ct);
            }
            else
            {
                check = await clients.CheckSecretAsync(context.ClientId, context.ClientSecret, ct);
            }

            if (!check.Succeeded)
            {
                context.Reject(Errors.InvalidClient, ClientAuthentication.Refusal);
                return;
            }

            if (context.Transaction.Properties.TryGetValue(ClientAuthenticationGuard.ThrottleKeyProperty, out var key) && key is string pair)
            {
                throttle.Succeeded(pair);
            }

            context.Transaction.Properties[UserIdProperty] = check.User!.Id;
            context.Transaction.Properties[StampProperty] = check.User.SecurityStamp;
        }
    }

    /// <summary>The principal of an access token for Tessera's API: the user, their stamp digest, roles and privileges.</summary>
    internal static ClaimsPrincipal AccessPrincipal(CallerState caller, IEnumerable<string> scopes, string audience)
    {
        var identity = new ClaimsIdentity(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, caller.Id.ToString())
            .SetClaim(Claims.PreferredUsername, caller.Username)
            .SetClaim(TesseraClaims.UserType, caller.Type.ToWire())
            .SetClaim(TesseraClaims.Stamp, caller.StampDigest)
            .SetClaims(Claims.Role, [.. caller.Roles])
            .SetClaims(TesseraClaims.Privilege, [.. caller.Privileges.Order(StringComparer.Ordinal)]);
        identity.SetScopes(scopes);
        identity.SetAudiences(audience);
        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        return new ClaimsPrincipal(identity);
    }

    /// <summary>
    /// Counts every answer of the token endpoint: a token issued by grant type, or a refusal by OAuth error. Both
    /// labels are closed sets (a client may send any grant_type, and an unknown one is "other"), so nothing a client
    /// sends becomes a series. A singleton doing one Counter.Add: with no listener that is a few nanoseconds.
    /// </summary>
    internal sealed class CountTokenResponses(Observability.TesseraMetrics metrics) : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static int Order => ClientAuthenticationGuard.RecordFailure<ApplyTokenResponseContext>.Order + 500;

        private static readonly System.Collections.Frozen.FrozenDictionary<string, string> Grants = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [GrantTypes.ClientCredentials] = "client_credentials",
            [GrantTypes.AuthorizationCode] = "authorization_code",
            [GrantTypes.RefreshToken] = "refresh_token",
            [GrantTypes.TokenExchange] = "token_exchange",
            [GrantTypes.DeviceCode] = "device_code",
            [GrantTypes.Password] = "password",
            ["urn:ietf:params:oauth:grant-type:jwt-bearer"] = "jwt_bearer",
        }.ToFrozenDictionary(StringComparer.Ordinal);

        private static readonly System.Collections.Frozen.FrozenSet<string> KnownErrors = new[]
        {
            Errors.InvalidRequest, Errors.InvalidClient, Errors.InvalidGrant, Errors.UnauthorizedClient, Errors.UnsupportedGrantType,
            Errors.InvalidScope, Errors.InvalidTarget, Errors.InvalidToken, Errors.AccessDenied, Errors.ServerError,
            Errors.TemporarilyUnavailable, Errors.SlowDown, Errors.AuthorizationPending, Errors.ExpiredToken, Errors.InsufficientAccess,
        }.ToFrozenSet(StringComparer.Ordinal);

        public static string GrantLabel(string? grantType) => grantType is not null && Grants.TryGetValue(grantType, out var label) ? label : "other";

        public static string ErrorLabel(string error) => KnownErrors.Contains(error) ? error : "other";

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (context.Transaction.Response is not { } response)
            {
                return default;
            }

            if (!string.IsNullOrEmpty(response.Error))
            {
                metrics.TokenFailed(ErrorLabel(response.Error));
            }
            else if (!string.IsNullOrEmpty(response.AccessToken))
            {
                metrics.TokenIssued(GrantLabel(context.Transaction.Request?.GrantType));
            }

            return default;
        }
    }

    private sealed class IssueAccessToken(TesseraDbContext db, CallerDirectory callers, AuditLog audit, ExpiredRevocations purge, IOptions<TokenOptions> tokens, TimeProvider clock)
        : IOpenIddictServerHandler<HandleTokenRequestContext>
    {
        public async ValueTask HandleAsync(HandleTokenRequestContext context)
        {
            if (context.Request.IsAuthorizationCodeGrantType())
            {
                if (await AuthorizationCode.RedeemAsync(context, db, audit, purge, tokens, clock) is { } principal)
                {
                    context.SignIn(principal);
                }

                return;
            }

            if (!context.Request.IsClientCredentialsGrantType() || !context.Transaction.Properties.TryGetValue(UserIdProperty, out var id))
            {
                return;
            }

            // The cached standing serves when it carries the stamp the password check has just read; else load afresh.
            var caller = await callers.GetAsync((Guid)id!, context.CancellationToken);
            if (caller is null || !context.Transaction.Properties.TryGetValue(StampProperty, out var stamp) || caller.SecurityStamp != (string?)stamp)
            {
                caller = await CallerDirectory.LoadAsync(db, (Guid)id!, clock.GetUtcNow().UtcDateTime, context.CancellationToken);
            }

            if (caller is null)
            {
                context.Reject(Errors.InvalidClient, "The client credentials are invalid.");
                return;
            }

            context.SignIn(AccessPrincipal(caller, context.Request.GetScopes(), tokens.Value.Audience));
        }
    }

    /// <summary>RFC 7009: a client revokes its own tokens; holders of MANAGE_USERS may revoke anyone's.</summary>
    private sealed class RevokeToken(TesseraDbContext db, CallerDirectory callers, AuditLog audit, ExpiredRevocations purge, TokenRevocations revocations, TimeProvider clock)
        : IOpenIddictServerHandler<HandleRevocationRequestContext>
    {
        public async ValueTask HandleAsync(HandleRevocationRequestContext context)
        {
            var principal = context.GenericTokenPrincipal;
            var tokenId = principal?.GetClaim(Claims.JwtId) ?? principal?.GetTokenId();
            if (principal is null || tokenId is null)
            {
                return;
            }

            var clientId = (Guid)context.Transaction.Properties[UserIdProperty]!;
            var owner = principal.GetClaim(Claims.Subject);
            if (owner != clientId.ToString())
            {
                var client = await callers.GetAsync(clientId, context.CancellationToken);
                if (client?.Privileges.Contains(Core.Access.Privileges.ManageUsers) != true)
                {
                    // RFC 7009 §2.2: answer as if done, without revoking another client's token.
                    return;
                }
            }

            var expires = principal.GetExpirationDate()?.UtcDateTime ?? clock.GetUtcNow().UtcDateTime.AddDays(1);
            if (!await db.RevokedTokens.AnyAsync(t => t.TokenId == tokenId, context.CancellationToken))
            {
                db.RevokedTokens.Add(new RevokedToken { TokenId = tokenId, ExpiresAt = expires });
                audit.Record(db, "token.revoked", "user", owner, principal.GetClaim(Claims.PreferredUsername), new { tokenId });
                await db.SaveChangesAsync(context.CancellationToken);
                await purge.IfDueAsync(db, clock.GetUtcNow().UtcDateTime, context.CancellationToken);
            }

            revocations.Revoked(tokenId);
        }
    }

    private sealed class CheckServerTokenStanding(TokenStanding standing) : IOpenIddictServerHandler<ValidateTokenContext>
    {
        public async ValueTask HandleAsync(ValidateTokenContext context)
        {
            // A client assertion is the client's own token, not one Tessera issued: ClientAuthentication judges it.
            if (context.ValidTokenTypes.Count == 1 && context.ValidTokenTypes.Contains(TokenTypeIdentifiers.Private.ClientAssertion))
            {
                return;
            }

            if (context.Principal is { } principal && await standing.RefusalAsync(principal, context.CancellationToken) is { } reason)
            {
                context.Reject(Errors.InvalidToken, reason);
            }
        }
    }

    private sealed class CheckValidationTokenStanding(TokenStanding standing) : IOpenIddictValidationHandler<OpenIddictValidationEvents.ValidateTokenContext>
    {
        public async ValueTask HandleAsync(OpenIddictValidationEvents.ValidateTokenContext context)
        {
            if (context.Principal is { } principal && await standing.RefusalAsync(principal, context.CancellationToken) is { } reason)
            {
                context.Reject(Errors.InvalidToken, reason);
            }
        }
    }
}

/// <summary>
/// Which token ids are revoked, remembered per instance: a revoked id for an hour (it stays revoked), one found
/// not revoked for 5 s. A revocation here forgets the id at once; one on another instance clears what this
/// instance remembered as not revoked (<see cref="CacheSignals"/>), and without that the 5 s bound applies.
/// </summary>
public sealed class TokenRevocations
{
    private const int Capacity = 100_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (bool Revoked, DateTime Until)> known = new(StringComparer.Ordinal);
    private readonly CacheSignals signals;

    public TokenRevocations(CacheSignals signals)
    {
        this.signals = signals;
        signals.Register(CacheKinds.Revocations, ForgetUnrevoked);
    }

    public async ValueTask<bool> IsRevokedAsync(TesseraDbContext db, string tokenId, DateTime now, CancellationToken ct)
    {
        if (known.TryGetValue(tokenId, out var entry) && entry.Until > now)
        {
            return entry.Revoked;
        }

        var revoked = await db.RevokedTokens.AnyAsync(t => t.TokenId == tokenId, ct);
        if (known.Count > Capacity)
        {
            known.Clear();
        }

        known[tokenId] = (revoked, now.AddSeconds(revoked ? 3600 : 5));
        return revoked;
    }

    /// <summary>After a revocation is committed: here at once, elsewhere through the notification.</summary>
    public void Revoked(string tokenId)
    {
        known.TryRemove(tokenId, out _);
        signals.Publish(CacheKinds.Revocations);
    }

    private void ForgetUnrevoked()
    {
        foreach (var (id, entry) in known)
        {
            if (!entry.Revoked)
            {
                known.TryRemove(id, out _);
            }
        }
    }
}

/// <summary>Whether a signature-valid token still stands: its user may act, its stamp is current, it is not revoked.</summary>
public sealed class TokenStanding(CallerDirectory callers, TesseraDbContext db, TokenRevocations revocations, TimeProvider clock)
{
    public async ValueTask<string?> RefusalAsync(ClaimsPrincipal principal, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (!Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId))
        {
            return "The token names no user.";
        }

        var caller = await callers.GetAsync(userId, ct);
        if (caller is null || !caller.Honours(principal, now))
        {
            return "The token is no longer valid.";
        }

        var tokenId = principal.GetClaim(Claims.JwtId) ?? principal.GetTokenId();
        if (tokenId is not null && await revocations.IsRevokedAsync(db, tokenId, now, ct))
        {
            return "The token was revoked.";
        }

        return null;
    }
}
