using System.Text.Json;
using System.Threading.RateLimiting;
using Fido2NetLib;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Tessera.Core.Common;
using Tessera.Server.Http;
using Tessera.Server.SignIn;

namespace Tessera.Server.Passkeys;

/// <summary>
/// The Back Office's JSON endpoints for wwwroot/js/passkeys.js. They are pages' helpers, not the public API (so not in
/// the OpenAPI document); each validates the antiforgery token the page carries (header RequestVerificationToken).
/// </summary>
public static class PasskeyEndpoints
{
    /// <summary>Per client address: the anonymous passkey sign-in endpoints.</summary>
    public const string RateLimitPolicy = "passkeys";

    public static IServiceCollection AddTesseraPasskeys(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PasskeyOptions>().Bind(configuration.GetSection("Tessera:Passkeys")).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<PasskeyOptions>, PasskeyOptionsValidator>();
        services.AddSingleton<PasskeyConfiguration>();
        services.AddSingleton<PasskeyCeremonies>();
        services.AddSingleton<PasskeyStore>();
        services.AddScoped<PasskeyService>();
        services.AddSingleton<Mfa.IMfaMethodSource, PasskeyMethods>();
        // Per client address: the limiter runs before authentication (it must see /connect/token, which OpenIddict answers
        // early), so no user is known yet. The 429 answer comes from Http/RateLimits.cs (OnRejected).
        services.AddRateLimiter(o => o.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<PasskeyOptions>>().Value.RequestsPerFiveMinutes,
                Window = TimeSpan.FromMinutes(5),
                QueueLimit = 0,
            })));
        return services;
    }

    public static IEndpointRouteBuilder MapPasskeys(this IEndpointRouteBuilder app)
    {
        var profile = app.MapGroup("/profile/passkeys").ExcludeFromDescription()
            .AddEndpointFilter(ValidateAntiforgeryAsync).DisableAntiforgery();

        // Allowed without a session only for the user of a pending sign-in at the enrolment stage (OwnerAsync decides).
        profile.MapPost("/options", async (HttpContext http, SignInFlow flow, PasskeyService passkeys, CancellationToken ct) =>
        {
            if (await OwnerAsync(http, flow) is not { } owner)
            {
                return NotSignedIn();
            }

            var outcome = await passkeys.RegistrationOptionsAsync(http, owner, ct);
            return outcome.Succeeded ? Results.Content(outcome.Value!, "application/json") : Problems.From(outcome.Failure!);
        })
            .AllowAnonymous().RequireRateLimiting(RateLimitPolicy).WithSummary("Creation options for a new passkey of the caller.");

        profile.MapPost("", async (HttpContext http, SignInFlow flow, PasskeyService passkeys, CancellationToken ct) =>
        {
            if (await OwnerAsync(http, flow) is not { } owner)
            {
                return NotSignedIn();
            }

            if (await BodyAsync(http, ct) is not { } body)
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "invalid_request", "The body must be a JSON object with `name` and `credential`.");
            }

            var name = body.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            if (!TryCredential<AuthenticatorAttestationRawResponse>(body, out var credential))
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "invalid_request", "`credential` is not a WebAuthn attestation response.");
            }

            var outcome = await passkeys.RegisterAsync(http, owner, name, credential, ct);
            return outcome.Succeeded ? Results.Json(outcome.Value, statusCode: StatusCodes.Status201Created) : Problems.From(outcome.Failure!);
        }).AllowAnonymous().RequireRateLimiting(RateLimitPolicy).WithSummary("Adds a passkey (a name and the authenticator's attestation) to the caller's own.");

        profile.MapPost("/{id:guid}/delete", async (Guid id, HttpContext http, PasskeyService passkeys, CancellationToken ct) =>
            !Guid.TryParse(http.User.FindFirst(TesseraClaims.Subject)?.Value, out var userId) ? NotSignedIn()
                : (await passkeys.RemoveAsync(userId, id, ct)).ToNoContent())
            .RequireAuthorization(p => p.AddAuthenticationSchemes(WebSessions.Scheme).RequireAuthenticatedUser())
            .WithSummary("Removes one of the caller's own passkeys.");

        var signIn = app.MapGroup("/signin/passkey").ExcludeFromDescription()
            .AddEndpointFilter(ValidateAntiforgeryAsync).DisableAntiforgery().AllowAnonymous().RequireRateLimiting(RateLimitPolicy);

        signIn.MapPost("/options", async (HttpContext http, PasskeyService passkeys, CancellationToken ct) =>
        {
            var body = await BodyAsync(http, ct);
            var mode = body is { } b && b.TryGetProperty("mode", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "signin";
            var returnUrl = body is { } r && r.TryGetProperty("returnUrl", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : "/";
            AssertionMode? parsed = mode switch { "signin" => AssertionMode.SignIn, "second-factor" => AssertionMode.SecondFactor, "step-up" => AssertionMode.StepUp, _ => null };
            if (parsed is null)
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "invalid_mode", "`mode` is one of signin, second-factor, step-up.");
            }

            var outcome = await passkeys.AssertionOptionsAsync(http, parsed.Value, returnUrl, ct);
            return outcome.Succeeded ? Results.Content(outcome.Value!, "application/json") : Problems.From(outcome.Failure!);
        }).WithSummary("Request options for a passkey: passwordless sign-in, a pending second factor, or a step-up.");

        signIn.MapPost("", async (HttpContext http, PasskeyService passkeys, CancellationToken ct) =>
        {
            if (await BodyAsync(http, ct) is not { } body || !TryCredential<AuthenticatorAssertionRawResponse>(body, out var credential))
            {
                return Problems.Of(StatusCodes.Status400BadRequest, "invalid_request", "The body must be a JSON object with `credential`: a WebAuthn assertion response.");
            }

            var outcome = await passkeys.AssertAsync(http, credential, ct);
            return outcome.Succeeded ? Results.Ok(new { redirect = outcome.Value }) : Problems.From(outcome.Failure!);
        }).WithSummary("Verifies a passkey assertion; answers where to go next.");

        return app;
    }

    private static IResult NotSignedIn()
        => Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "Sign in first; passkeys belong to a signed-in user.");

    /// <summary>
    /// The owner of new passkeys: the session's user, else the user of a pending sign-in that must enrol (and still may:
    /// same security stamp, active, not locked).
    /// </summary>
    private static async Task<PasskeyOwner?> OwnerAsync(HttpContext http, SignInFlow flow)
    {
        if (Guid.TryParse(http.User.FindFirst(TesseraClaims.Subject)?.Value, out var sessionUser))
        {
            return new PasskeyOwner(sessionUser, null);
        }

        return await flow.PendingAsync(http, PendingStage.Enrolment) is { } pending ? new PasskeyOwner(pending.UserId, pending) : null;
    }

    /// <summary>
    /// Antiforgery for JSON: the token travels in the RequestVerificationToken header. A page shown during a pending
    /// sign-in may have been rendered for the pending identity, so that identity is tried too when there is no session.
    /// </summary>
    private static async ValueTask<object?> ValidateAntiforgeryAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
        if (await antiforgery.IsRequestValidAsync(http))
        {
            return await next(context);
        }

        if (http.User.Identity?.IsAuthenticated != true && await http.AuthenticateAsync(WebSessions.PendingScheme) is { Succeeded: true } pending)
        {
            var anonymous = http.User;
            http.User = pending.Principal;
            var valid = await antiforgery.IsRequestValidAsync(http);
            http.User = anonymous;
            if (valid)
            {
                return await next(context);
            }
        }

        return Problems.Of(StatusCodes.Status400BadRequest, "antiforgery_failed", "The request lacks the page's antiforgery token; reload the page and try again.");
    }

    private const int MaxBodyBytes = 64 * 1024;

    private static async Task<JsonElement?> BodyAsync(HttpContext http, CancellationToken ct)
    {
        if (http.Request.ContentLength is > MaxBodyBytes || http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return null;
        }

        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, default, ct);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool TryCredential<T>(JsonElement body, out T? credential) where T : class
    {
        credential = null;
        if (!body.TryGetProperty("credential", out var element) || element.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        try
        {
            // Fido2's own types carry their base64url converters.
            credential = element.Deserialize<T>();
            return credential is not null;
        }
        catch (Exception e) when (e is JsonException or FormatException or NotSupportedException or InvalidOperationException)
        {
            return false;
        }
    }
}
