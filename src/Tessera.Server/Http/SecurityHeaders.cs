namespace Tessera.Server.Http;

public static class SecurityHeaders
{
    /// <summary>
    /// Headers on every response: no sniffing, no framing, no referrer leaks, and for pages a
    /// Content-Security-Policy without inline scripts. The API reference page (/docs) loads its
    /// own module script and is served without the strict policy.
    /// </summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/docs")
                ? "frame-ancestors 'none'"
                : "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";
            return Task.CompletedTask;
        });
        await next(context);
    });
}
