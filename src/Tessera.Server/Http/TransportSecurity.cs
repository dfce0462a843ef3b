using System.Net;
using Microsoft.AspNetCore.CookiePolicy;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Http;

/// <summary>
/// When <c>Tessera:PublicUrl</c> is https, people reach Tessera over TLS, whether Kestrel ends it or a proxy
/// in front does. Then every cookie Tessera sets (the session, the antiforgery token, SSO correlation and
/// nonce, TempData) is <c>Secure</c>, and every response carries <c>Strict-Transport-Security</c>. Both hold
/// whatever scheme the request arrived with: behind a TLS-terminating proxy that is not (yet) named in
/// <c>Tessera:Http:TrustedProxies</c> the request looks like plain http, yet the browser is on https, and
/// that is where the header and the flag count (browsers ignore HSTS received over plain http).
/// With an http PublicUrl (a laptop) cookies are Secure when the request is https, and no HSTS is sent.
/// </summary>
public static class TransportSecurity
{
    /// <summary>One year, as browsers' preload lists expect; subdomains are not included, since they may be other services.</summary>
    public const string HstsValue = "max-age=31536000";

    public static IServiceCollection AddTesseraTransportSecurity(this IServiceCollection services)
    {
        services.AddOptions<CookiePolicyOptions>().Configure<IOptions<TesseraOptions>>((o, tessera) =>
            o.Secure = IsHttps(tessera.Value) ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest);
        return services;
    }

    /// <summary>Before anything that sets a cookie; after the trusted proxies, so that their https counts.</summary>
    public static IApplicationBuilder UseTesseraTransportSecurity(this IApplicationBuilder app)
    {
        app.UseCookiePolicy();
        var tessera = app.ApplicationServices.GetRequiredService<IOptions<TesseraOptions>>().Value;
        if (!IsHttps(tessera) || IsLoopback(new Uri(tessera.PublicUrl)))
        {
            // As ASP.NET Core's own HSTS middleware: a browser would otherwise pin https on localhost for every local app.
            return app;
        }

        return app.Use(async (context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                ((HttpResponse)state).Headers.StrictTransportSecurity = HstsValue;
                return Task.CompletedTask;
            }, context.Response);
            await next(context);
        });
    }

    public static bool IsHttps(TesseraOptions tessera) => tessera.PublicUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static bool IsLoopback(Uri uri) => uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
