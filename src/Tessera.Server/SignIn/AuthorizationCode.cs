using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Tessera.Server.SignIn;

/// <summary>
/// Access tokens for BackOffice users: the authorization code flow with PKCE (S256) at a registered
/// public client (`Tessera:Tokens:Clients`). /connect/authorize answers from the user's Back Office
/// session (sending them to the sign-in page, password or SSO, when they have none) and redirects
/// a code to the client's registered redirect URI; the client redeems it once at /connect/token.
/// The token is the same kind an API user gets: it names the user, carries their stamp digest and
/// ends with their standing, so it opens the REST API (and agent assist's token exchange) with
/// exactly the user's privileges.
/// </summary>
public static class AuthorizationCode
{
    /// <summary>A random id carried only inside the code: its redemption is recorded under it, so a code is used once.</summary>
    internal const string CodeIdClaim = "tessera_code";

    /// <summary>`GET|POST /connect/authorize`, after OpenIddict has validated the request (client, redirect URI, PKCE).</summary>
    public static IEndpointRouteBuilder MapAuthorization(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/connect/authorize", [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, CallerDirectory callers, IOptions<TokenOptions> tokens)
    {
        var request = http.GetOpenIddictServerRequest();
        if (request is null)
        {
            return Http.Problems.Of(StatusCodes.Status400BadRequest, "invalid_request", "Not an OAuth 2.0 authorization request.");
        }

        // The session cookie is validated as on every page (WebSessions): only an active BackOffice user whose stamp
        // is current has one, so the caller read here (from the cache that check has just filled) may act.
        var session = await http.AuthenticateAsync(WebSessions.Scheme);
        var caller = session.Succeeded && Guid.TryParse(session.Principal.FindFirstValue(TesseraClaims.Subject), out var id)
            ? await callers.GetAsync(id, http.RequestAborted)
            : null;
        var signedIn = caller is not null;
        if (signedIn && !request.HasPromptValue(PromptValues.Login))
        {
            // Only Tessera's own scope: no identity token (openid) and no refresh token (offline_access) come from here.
            var principal = TokenServer.AccessPrincipal(caller!, request.GetScopes().Intersect([TokenServer.ApiScope], StringComparer.Ordinal), tokens.Value.Audience);
            principal.SetClaim(CodeIdClaim, Guid.NewGuid().ToString("N"));
            // What the session proved travels in the code to the token (amr, acr): a resource server can ask for two factors.
            principal.SetClaims(TesseraClaims.Amr, [.. session.Principal!.FindAll(TesseraClaims.Amr).Select(c => c.Value).Distinct(StringComparer.Ordinal)]);
            return Results.SignIn(principal, properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        if (!signedIn && request.HasPromptValue(PromptValues.None))
        {
            return Results.Forbid(new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.LoginRequired,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The user is not signed in.",
            }), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        // prompt=login asks for the user's credentials now: the session ends, and the way back no longer asks for it
        // (else the return would end the new session too).
        if (signedIn)
        {
            http.Items[WebSessionStore.EndReasonItem] = SessionEndReasons.SignOut;
            await http.SignOutAsync(WebSessions.Scheme);
        }

        var prompt = string.Join(' ', request.GetPromptValues().Remove(PromptValues.Login));
        var back = http.Request.PathBase + http.Request.Path + QueryString.Create(request.GetParameters()
            .Where(p => p.Key != Parameters.Prompt)
            .Select(p => KeyValuePair.Create(p.Key, (string?)p.Value))
            .Concat(prompt.Length > 0 ? [KeyValuePair.Create(Parameters.Prompt, (string?)prompt)] : []));

        // Back here once signed in: the sign-in page accepts only local return addresses, as this one is.
        return Results.Challenge(new AuthenticationProperties { RedirectUri = back }, [WebSessions.Scheme]);
    }

    /// <summary>
    /// Degraded mode leaves client and redirect URI checks to the host: the client must be registered and the
    /// redirect URI one of its own, exactly. Rejected here, before OpenIddict has a redirect URI to trust,
    /// the error is shown by Tessera rather than sent to the address the request named.
    /// </summary>
    internal sealed class ValidateClient(IOptions<TokenOptions> tokens) : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            var client = Find(tokens.Value, context.ClientId);
            if (client is null)
            {
                context.Reject(Errors.InvalidClient, "The client is not registered for the authorization code flow.");
            }
            else if (context.RedirectUri is null || !client.RedirectUris.Contains(context.RedirectUri, StringComparer.Ordinal))
            {
                context.Reject(Errors.InvalidRequest, "The redirect_uri is not registered for this client.");
            }

            return default;
        }
    }

    public static PublicClient? Find(TokenOptions options, string? clientId)
        => string.IsNullOrEmpty(clientId) ? null : options.Clients.Find(c => string.Equals(c.ClientId, clientId, StringComparison.Ordinal));

    /// <summary>
    /// Redeems a code: its user must still stand (checked afresh, not from the cache) and the code must not have
    /// been redeemed before. The redemption is recorded under the code's id with the code's expiry, in the table
    /// of revoked token ids, whose key makes a second redemption fail even when both race.
    /// </summary>
    internal static async Task<ClaimsPrincipal?> RedeemAsync(HandleTokenRequestContext context, TesseraDbContext db, AuditLog audit,
        ExpiredRevocations purge, IOptions<TokenOptions> tokens, TimeProvider clock)
    {
        var code = context.Principal!;
        var ct = context.CancellationToken;
        var now = clock.GetUtcNow().UtcDateTime;
        var userId = Guid.TryParse(code.GetClaim(Claims.Subject), out var parsed) ? parsed : Guid.Empty;
        var codeId = code.GetClaim(CodeIdClaim);
        var caller = userId == Guid.Empty ? null : await CallerDirectory.LoadAsync(db, userId, now, ct);
        var actor = audit.CurrentActor() with { Id = caller?.Id, Name = caller?.Username ?? code.GetClaim(Claims.PreferredUsername) ?? "anonymous" };
        void Record(string outcome, string? reason) => audit.Record(db, "token.authorization_code", "user", userId.ToString(), caller?.Username,
            reason is null ? new { client = context.ClientId } : new { client = context.ClientId, reason }, outcome, actor);

        if (caller is null || codeId is null || caller.Type != UserType.BackOffice || !caller.Honours(code, now))
        {
            Record("failure", "user_no_longer_stands");
            await db.SaveChangesAsync(ct);
            context.Reject(Errors.InvalidGrant, "The authorization code is no longer valid.");
            return null;
        }

        db.RevokedTokens.Add(new RevokedToken { TokenId = "code:" + codeId, ExpiresAt = code.GetExpirationDate()?.UtcDateTime ?? now.AddHours(1) });
        Record("success", null);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out _))
        {
            db.ChangeTracker.Clear();
            Record("failure", "code_reused");
            await db.SaveChangesAsync(ct);
            context.Reject(Errors.InvalidGrant, "The authorization code has already been used.");
            return null;
        }

        await purge.IfDueAsync(db, now, ct);
        return WithAssurance(TokenServer.AccessPrincipal(caller, code.GetScopes(), tokens.Value.Audience), code.GetClaims(TesseraClaims.Amr));
    }

    /// <summary>
    /// The methods the session proved (RFC 8176 `amr`, always a JSON array, even of one) and the level they make
    /// (`acr`: "2" when they include a second factor, "1" otherwise).
    /// </summary>
    internal static ClaimsPrincipal WithAssurance(ClaimsPrincipal principal, IEnumerable<string> amr)
    {
        var methods = amr.Distinct(StringComparer.Ordinal).ToList();
        var identity = (ClaimsIdentity)principal.Identity!;
        identity.AddClaim(new Claim(TesseraClaims.Amr, System.Text.Json.JsonSerializer.Serialize(methods),
            Microsoft.IdentityModel.JsonWebTokens.JsonClaimValueTypes.JsonArray));
        identity.SetClaim(TesseraClaims.Acr, methods.Contains(AuthenticationMethods.MultiFactor) ? "2" : "1");
        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        return principal;
    }

    /// <summary>`Tessera:Tokens:Clients` checked at start: a bad entry names itself instead of failing a sign-in later.</summary>
    internal sealed class ValidateOptions : IValidateOptions<TokenOptions>
    {
        public ValidateOptionsResult Validate(string? name, TokenOptions options)
        {
            var failures = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < options.Clients.Count; i++)
            {
                var client = options.Clients[i];
                var at = $"Tessera:Tokens:Clients:{i}";
                if (string.IsNullOrWhiteSpace(client.ClientId) || client.ClientId.Length > 100)
                {
                    failures.Add($"{at}:ClientId must be 1 to 100 characters.");
                }
                else if (!seen.Add(client.ClientId))
                {
                    failures.Add($"{at}:ClientId '{client.ClientId}' is registered twice.");
                }
                else if (client.ClientId == AgentAssist.AgentAssistNames.ClientId)
                {
                    failures.Add($"{at}:ClientId '{client.ClientId}' is reserved for agent assist's token exchange.");
                }

                if (client.RedirectUris.Count == 0)
                {
                    failures.Add($"{at}:RedirectUris needs at least one address.");
                }

                for (var j = 0; j < client.RedirectUris.Count; j++)
                {
                    if (!IsAcceptableRedirect(client.RedirectUris[j]))
                    {
                        failures.Add($"{at}:RedirectUris:{j} ('{client.RedirectUris[j]}') must be an absolute https address, http on a loopback address, or a private-use scheme such as com.example.app:/callback, without a fragment.");
                    }
                }
            }

            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }

        private static bool IsAcceptableRedirect(string value)
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Fragment.Length > 0 || !string.IsNullOrEmpty(uri.UserInfo))
            {
                return false;
            }

            return uri.Scheme switch
            {
                "https" => true,
                "http" => uri.IsLoopback,
                _ => uri.Scheme.Contains('.', StringComparison.Ordinal),
            };
        }
    }
}

/// <summary>
/// Rows of revoked tokens and redeemed codes outlive their purpose once the token or code has expired
/// (either is then refused by its expiry alone): at most once an hour per instance, those an hour past
/// their expiry are deleted.
/// </summary>
public sealed class ExpiredRevocations
{
    private readonly OncePer _hourly = new(TimeSpan.FromHours(1));

    public async Task IfDueAsync(TesseraDbContext db, DateTime now, CancellationToken ct)
    {
        if (!_hourly.IsDue(now))
        {
            return;
        }

        var before = now.AddHours(-1);
        await db.RevokedTokens.Where(t => t.ExpiresAt < before).ExecuteDeleteAsync(ct);
    }
}
