using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>The caller's own view of themselves (GET /api/v1/me).</summary>
public sealed record MeResponse(Guid Id, string Username, string Email, string FirstName, string LastName, string Type,
    IReadOnlyList<string> Roles, IReadOnlyList<string> Groups, IReadOnlyList<string> Privileges);

public static class SignInEndpoints
{
    public static IEndpointRouteBuilder MapSignIn(this IEndpointRouteBuilder app)
    {
        // login_hint (optional) pre-selects the account at the provider, e.g. from a link in an invitation.
        app.MapGet("/signin/sso/{provider}", (string provider, string? returnUrl, [FromQuery(Name = "login_hint")] string? loginHint, SsoProviders providers) =>
        {
            var found = providers.Find(provider);
            if (found is null)
            {
                return Results.Redirect("/signin?sso=" + SsoRefusal.Failed);
            }

            loginHint = loginHint?.Trim();
            if (loginHint?.Length > SingleSignOn.MaxLoginHintLength)
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "invalid_login_hint",
                    $"login_hint is longer than {SingleSignOn.MaxLoginHintLength} characters.");
            }

            var properties = new AuthenticationProperties
            {
                RedirectUri = $"/signin/sso/complete?provider={Uri.EscapeDataString(found.Name)}&returnUrl={Uri.EscapeDataString(LocalOnly(returnUrl))}",
            };

            // A parameter, not an item: it is read when the challenge is built and never stored in the state.
            if (!string.IsNullOrEmpty(loginHint))
            {
                properties.SetParameter(OpenIdConnectParameterNames.LoginHint, loginHint);
            }

            return Results.Challenge(properties, [found.Scheme]);
        }).AllowAnonymous().ExcludeFromDescription();

        app.MapGet("/signin/sso/complete", async (string provider, string? returnUrl, HttpContext http, SsoProviders providers, SsoSignIn sso, SignInFlow flow) =>
        {
            var found = providers.Find(provider);
            var external = await http.AuthenticateAsync(WebSessions.ExternalScheme);
            await http.SignOutAsync(WebSessions.ExternalScheme);
            if (found is null || !external.Succeeded)
            {
                return Results.Redirect("/signin?sso=" + SsoRefusal.Failed);
            }

            var (user, refusal) = await sso.CompleteAsync(found, external.Principal, http.RequestAborted);
            if (user is null || refusal != SsoRefusal.None)
            {
                return Results.Redirect("/signin?sso=" + refusal);
            }

            // The provider's own amr (RFC 8176), as it stated it.
            var amr = external.Principal.FindAll(TesseraClaims.Amr).Select(c => c.Value).Where(v => v.Length is > 0 and <= 32).ToList();
            return Results.LocalRedirect(await flow.ContinueAsync(http, user.Id, amr, LocalOnly(returnUrl), http.RequestAborted, found.Kind));
        }).AllowAnonymous().ExcludeFromDescription();

        var api = app.MapGroup("/api/v1").WithTags("Sign-in");
        api.MapGet("/me", async (HttpContext http, CallerDirectory callers) =>
        {
            var id = Guid.Parse(http.User.FindFirst(TesseraClaims.Subject)!.Value);
            var caller = await callers.GetAsync(id, http.RequestAborted);
            return caller is null
                ? Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "The caller no longer exists.")
                : Results.Ok(new MeResponse(caller.Id, caller.Username, caller.Email, caller.FirstName, caller.LastName, caller.Type.ToWire(),
                    caller.Roles, caller.Groups, [.. caller.Privileges.Order(StringComparer.Ordinal)]));
        }).RequireCaller().WithSummary("The caller: id, names, type, roles, groups and effective privileges.");

        api.MapPost("/users/{id:guid}/revoke-tokens", async (Guid id, Credentials.CredentialService credentials, CancellationToken ct) =>
            (await credentials.RevokeTokensAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Ends every token and session of the user at once.");

        return app;
    }

    /// <summary>The longest return address kept; a longer one is no link Tessera handed out.</summary>
    public const int MaxReturnUrlLength = 2048;

    /// <summary>
    /// A return address as a clean local path, else "/". Clean means: it starts with one '/', and holds only printable
    /// ASCII other than '\' (so percent-encoded where needed, as the links Tessera builds are). Browsers drop tabs and
    /// line breaks and read '\' as '/', so "/\t/evil.example" or "/\evil.example" would leave the site; and
    /// <c>LocalRedirect</c> throws on what it deems not local, which must not become a 500.
    /// </summary>
    public static string LocalOnly(string? returnUrl)
        => returnUrl is { Length: > 0 and <= MaxReturnUrlLength } && returnUrl[0] == '/'
            && (returnUrl.Length == 1 || returnUrl[1] is not ('/' or '\\'))
            && returnUrl.All(c => c is > ' ' and < '\x7f' and not '\\')
            ? returnUrl
            : "/";
}
