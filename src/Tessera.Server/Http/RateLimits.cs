using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Http;

/// <summary>`Tessera:RateLimits:{name}`: at most <see cref="PermitLimit"/> requests per client address per window; 0 in either turns the limit off.</summary>
public sealed class RateLimitRule
{
    public int PermitLimit { get; set; }

    public int WindowSeconds { get; set; }

    public bool IsOff => PermitLimit == 0 || WindowSeconds == 0;
}

/// <summary>
/// `Tessera:RateLimits`: how often one client address may try a secret. They slow down guessing from one place;
/// the lockout (wrong passwords and codes count per user, in the database) stops it for a user, from everywhere and
/// exactly across instances. Each limit applies per instance: behind N round-robin instances one address gets the
/// limit × N (docs/operations.md, "Rate limits behind several instances").
/// </summary>
public sealed class RateLimitSettings
{
    /// <summary>POST /signin.</summary>
    public RateLimitRule SignIn { get; set; } = new() { PermitLimit = 30, WindowSeconds = 60 };

    /// <summary>POST /signin/mfa (and any page that takes a second factor and names <see cref="RateLimits.SecondFactor"/>).</summary>
    public RateLimitRule SecondFactor { get; set; } = new() { PermitLimit = 30, WindowSeconds = 60 };

    /// <summary>/connect/token. Integrations call it often, from few addresses: the default is high.</summary>
    public RateLimitRule Token { get; set; } = new() { PermitLimit = 6000, WindowSeconds = 60 };

    /// <summary>POST /api/v1/me/password.</summary>
    public RateLimitRule OwnPassword { get; set; } = new() { PermitLimit = 10, WindowSeconds = 60 };

    public IEnumerable<(string Name, RateLimitRule Rule)> All => [("SignIn", SignIn), ("SecondFactor", SecondFactor), ("Token", Token), ("OwnPassword", OwnPassword)];
}

/// <summary>
/// Every rate limit of the service, in one place: the named policies endpoints and pages attach, and the limit of
/// /connect/token, which OpenIddict answers before routing (so it is a global limiter keyed by path). Each is per
/// client address, the address as the trusted-proxies middleware left it. A refusal is a 429 with Retry-After:
/// problem+json (code `rate_limited`) for the API and the token endpoint, a readable page for the Back Office.
/// The counters live in this instance's memory, deliberately: a shared counter would cost a database round trip on
/// every sign-in and token request, to enforce a limit that only slows guessing (the lockout is what stops it). So
/// behind N instances an address may make N times the limit, as ScaleOutTests shows; operators divide by N.
/// </summary>
public static class RateLimits
{
    /// <summary>POSTs to /signin.</summary>
    public const string SignIn = "signin";

    /// <summary>POSTs of a second factor (/signin/mfa): the page attaches it with <c>[EnableRateLimiting(RateLimits.SecondFactor)]</c>.</summary>
    public const string SecondFactor = "second-factor";

    /// <summary>POST /api/v1/me/password.</summary>
    public const string OwnPassword = "own-password";

    /// <summary>Forgotten-password and reset requests (API and pages): a fixed 20 per 5 minutes.</summary>
    public const string Credentials = "credentials";

    public const string Code = "rate_limited";

    private const string TokenPath = "/connect/token";

    public static IServiceCollection AddTesseraRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitSettings>().Bind(configuration.GetSection("Tessera:RateLimits")).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitSettings>, ValidateSettings>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitSettings>>((o, settings) =>
        {
            var limits = settings.Value;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;

            // Pages carry the policy as a whole; only their POSTs try a secret, so a GET of the form is never refused.
            o.AddPolicy(SignIn, context => PostsPerAddress(context, SignIn, limits.SignIn));
            o.AddPolicy(SecondFactor, context => PostsPerAddress(context, SecondFactor, limits.SecondFactor));
            o.AddPolicy(OwnPassword, context => PostsPerAddress(context, OwnPassword, limits.OwnPassword));
            o.AddPolicy(Credentials, context => RateLimitPartition.GetFixedWindowLimiter(Credentials + ":" + Address(context),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = 20, Window = TimeSpan.FromMinutes(5), QueueLimit = 0 }));
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                context.Request.Path.Equals(TokenPath, StringComparison.OrdinalIgnoreCase)
                    ? PostsPerAddress(context, "token", limits.Token)
                    : RateLimitPartition.GetNoLimiter(""));
            o.OnRejected = RejectAsync;
        });
        return services;
    }

    private static RateLimitPartition<string> PostsPerAddress(HttpContext context, string name, RateLimitRule rule)
        => rule.IsOff || !HttpMethods.IsPost(context.Request.Method)
            ? RateLimitPartition.GetNoLimiter("")
            : RateLimitPartition.GetFixedWindowLimiter(name + ":" + Address(context),
                _ => new FixedWindowRateLimiterOptions { PermitLimit = rule.PermitLimit, Window = TimeSpan.FromSeconds(rule.WindowSeconds), QueueLimit = 0 });

    private static string Address(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken ct)
    {
        var context = rejected.HttpContext;
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 60;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var policy = context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName;
        var api = context.Request.Path.StartsWithSegments("/api") || context.Request.Path.Equals(TokenPath, StringComparison.OrdinalIgnoreCase)
            || policy == Passkeys.PasskeyEndpoints.RateLimitPolicy;
        if (api)
        {
            // The credentials and passkey policies answered `too_many_requests` before the others existed; their clients keep that code.
            var code = policy is Credentials or Passkeys.PasskeyEndpoints.RateLimitPolicy ? "too_many_requests" : Code;
            await Problems.Of(StatusCodes.Status429TooManyRequests, code, $"Too many requests from this address; try again in {seconds} seconds.").ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Too many attempts · Tessera</title><link rel="stylesheet" href="/css/site.css"></head>
            <body><main class="narrow"><h1>Too many attempts</h1>
            <p id="rate-limited">There were too many attempts from your network address. Wait {seconds} seconds, then <a href="{WebUtility.HtmlEncode(context.Request.Path)}">try again</a>.</p>
            </main></body></html>
            """, ct);
    }

    private sealed class ValidateSettings : IValidateOptions<RateLimitSettings>
    {
        public ValidateOptionsResult Validate(string? name, RateLimitSettings options)
        {
            var errors = new List<string>();
            foreach (var (setting, rule) in options.All)
            {
                if (rule is null)
                {
                    continue;
                }

                if (rule.PermitLimit is < 0 or > 1_000_000)
                {
                    errors.Add($"Tessera:RateLimits:{setting}:PermitLimit must be between 0 (off) and 1000000.");
                }

                if (rule.WindowSeconds is < 0 or > 86_400)
                {
                    errors.Add($"Tessera:RateLimits:{setting}:WindowSeconds must be between 0 (off) and 86400.");
                }
            }

            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
