using Microsoft.Extensions.Options;
using Tessera.Server.SignIn;

namespace Tessera.Server.Http;

public static class SecurityHeaders
{
    /// <summary>
    /// Headers on every response: no sniffing, no framing, no referrer leaks, and for pages a
    /// Content-Security-Policy without inline scripts. The API reference page (/docs) loads its
    /// own module script and is served without the strict policy.
    /// </summary>
    /// <remarks>
    /// `form-action` also names the origins (or private-use schemes) of the registered public clients' redirect
    /// URIs: browsers apply it to every redirect that follows a form, and signing in on the way to
    /// /connect/authorize ends with a redirect to the client.
    /// </remarks>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        var clients = app.ApplicationServices.GetRequiredService<IOptions<TokenOptions>>().Value.Clients;
        var formAction = string.Join(' ', clients.SelectMany(c => c.RedirectUris).Select(FormActionSource).Distinct(StringComparer.Ordinal).Prepend("'self'"));
        var pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action " + formAction
            + "; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
        return app.Use(async (context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                headers.XFrameOptions = "DENY";
                headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/docs") ? "frame-ancestors 'none'" : pagePolicy;
                return Task.CompletedTask;
            });
            await next(context);
        });
    }

    /// <summary>A CSP source for a validated redirect URI: its origin, or its scheme when private-use.</summary>
    private static string FormActionSource(string redirectUri)
    {
        var uri = new Uri(redirectUri);
        return uri.Scheme is "http" or "https" ? uri.GetLeftPart(UriPartial.Authority) : uri.Scheme + ":";
    }
}
