using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using Tessera.Server.Storage;

namespace Tessera.Server.SignIn;

/// <summary>
/// BackOffice cookie sessions. Each is a stored <see cref="WebSession"/> record; the cookie carries only a protected
/// reference to it (<see cref="WebSessionStore"/>), so sign-out, an administrator or another instance can end it at
/// once. Every request also checks the record's digest of the user's security stamp against the caller's current
/// standing, so a password change, disable, lock or delete ends every session of that user.
/// </summary>
public static class WebSessions
{
    public const string Scheme = "Tessera.Session";

    /// <summary>Holds the identity from an SSO provider between its callback and Tessera's decision.</summary>
    public const string ExternalScheme = "Tessera.External";

    /// <summary>A sign-in past its first factor that still owes a second factor or an enrolment (<see cref="SignInFlow"/>).</summary>
    public const string PendingScheme = "Tessera.Pending";

    public static AuthenticationBuilder AddTesseraSessions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SessionOptions>().Bind(configuration.GetSection("Tessera:Sessions")).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<WebSessionStore>();
        services.AddScoped<SessionService>();
        services.AddOptions<CookieAuthenticationOptions>(Scheme).Configure<IOptions<SessionOptions>, WebSessionStore>((o, sessions, store) =>
        {
            o.ExpireTimeSpan = TimeSpan.FromMinutes(sessions.Value.IdleMinutes);
            o.SessionStore = store;
        });

        return services.AddAuthentication(Scheme)
            .AddCookie(Scheme, o =>
            {
                o.Cookie.Name = "tessera.session";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.SlidingExpiration = true;
                o.LoginPath = "/signin";
                o.LogoutPath = "/signout";
                o.AccessDeniedPath = "/forbidden";
                o.Events.OnValidatePrincipal = ValidateAsync;
                o.Events.OnSignedIn = ReissueAsync;
            })
            .AddCookie(ExternalScheme, o =>
            {
                o.Cookie.Name = "tessera.external";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.ExpireTimeSpan = TimeSpan.FromMinutes(5);
            })
            .AddCookie(PendingScheme, o =>
            {
                o.Cookie.Name = "tessera.pending";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.ExpireTimeSpan = TimeSpan.FromMinutes(5);
                o.SlidingExpiration = false;
                o.LoginPath = "/signin";
            });
    }

    /// <summary>A session's principal: who, under which stamp, since when, proven how (`amr`), and when a second factor was last shown.</summary>
    public static ClaimsPrincipal Principal(CallerState caller, DateTime now, IEnumerable<string> amr, DateTime? secondFactorAt)
    {
        var identity = new ClaimsIdentity(
        [
            new Claim(TesseraClaims.Subject, caller.Id.ToString()),
            new Claim(TesseraClaims.Username, caller.Username),
            new Claim(TesseraClaims.Stamp, caller.StampDigest),
            new Claim(TesseraClaims.SessionStarted, now.ToString("O")),
        ], Scheme, TesseraClaims.Username, TesseraClaims.Role);
        foreach (var method in amr.Distinct(StringComparer.Ordinal))
        {
            identity.AddClaim(new Claim(TesseraClaims.Amr, method));
        }

        if (secondFactorAt is { } at)
        {
            identity.AddClaim(new Claim(TesseraClaims.SecondFactorAt, at.ToString("O")));
        }

        return new ClaimsPrincipal(identity);
    }

    /// <summary>The principal of a stored session, as <see cref="WebSessionStore"/> rebuilds it on each request: the record's stamp digest, methods and times, and its id as `sid`.</summary>
    public static ClaimsPrincipal Principal(WebSession record, string username)
    {
        var identity = new ClaimsIdentity(
        [
            new Claim(TesseraClaims.Subject, record.UserId.ToString()),
            new Claim(TesseraClaims.Username, username),
            new Claim(TesseraClaims.Stamp, record.StampDigest),
            new Claim(TesseraClaims.SessionStarted, record.CreatedAt.ToString("O")),
            new Claim(TesseraClaims.SessionId, record.Id.ToString()),
        ], Scheme, TesseraClaims.Username, TesseraClaims.Role);
        foreach (var method in WebSessionRecords.SplitAmr(record.Amr))
        {
            identity.AddClaim(new Claim(TesseraClaims.Amr, method));
        }

        if (record.SecondFactorAt is { } at)
        {
            identity.AddClaim(new Claim(TesseraClaims.SecondFactorAt, DateTime.SpecifyKind(at, DateTimeKind.Utc).ToString("O")));
        }

        return new ClaimsPrincipal(identity);
    }

    /// <summary>The session's record id (`sid`), when the principal is a stored session.</summary>
    public static Guid? SessionIdOf(ClaimsPrincipal principal) => Guid.TryParse(principal.FindFirstValue(TesseraClaims.SessionId), out var id) ? id : null;

    /// <summary>
    /// A sign-in over a session that was still open ended that session's record (<see cref="WebSessionStore.RenewAsync(string, AuthenticationTicket, HttpContext, CancellationToken)"/>)
    /// but left the old key in the cookie the handler just wrote. Replace that cookie: a handler of its own for this
    /// scheme finds the old record ended, so it stores the sign-in as a new record under a new key.
    /// </summary>
    private static async Task ReissueAsync(CookieSignedInContext context)
    {
        var http = context.HttpContext;
        if (!http.Items.Remove(WebSessionStore.ReissueItem, out var pending) || pending is not AuthenticationTicket ticket)
        {
            return;
        }

        var name = context.Options.Cookie.Name + "=";
        var headers = http.Response.Headers;
        headers.SetCookie = new Microsoft.Extensions.Primitives.StringValues([.. headers.SetCookie.Where(c => c is not null && !c.StartsWith(name, StringComparison.Ordinal))]);
        var handlers = new AuthenticationHandlerProvider(http.RequestServices.GetRequiredService<IAuthenticationSchemeProvider>());
        var handler = (IAuthenticationSignInHandler)(await handlers.GetHandlerAsync(http, Scheme))!;
        await handler.SignInAsync(ticket.Principal, ticket.Properties);
    }

    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var services = context.HttpContext.RequestServices;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var absolute = TimeSpan.FromHours(services.GetRequiredService<IOptions<SessionOptions>>().Value.AbsoluteHours);
        var principal = context.Principal!;
        var started = DateTime.TryParse(principal.FindFirstValue(TesseraClaims.SessionStarted), null, System.Globalization.DateTimeStyles.RoundtripKind, out var s) ? s : DateTime.MinValue;
        CallerState? caller = null;
        if (Guid.TryParse(principal.FindFirstValue(TesseraClaims.Subject), out var id))
        {
            caller = await services.GetRequiredService<CallerDirectory>().GetAsync(id, context.HttpContext.RequestAborted);
        }

        if (caller is null || caller.Type != Core.Users.UserType.BackOffice || !caller.Honours(principal, now) || now - started > absolute)
        {
            // The record ends with the cookie (WebSessionStore.RemoveAsync), so the session cannot come back.
            context.HttpContext.Items[WebSessionStore.EndReasonItem] = caller is null ? SessionEndReasons.UserDeleted
                : now - started > absolute ? SessionEndReasons.Expired : SessionEndReasons.CredentialsChanged;
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }
}
