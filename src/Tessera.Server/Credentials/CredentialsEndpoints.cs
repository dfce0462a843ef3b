using Microsoft.AspNetCore.RateLimiting;
using Tessera.Core.Access;
using Tessera.Core.Credentials;
using Tessera.Server.Http;
using Tessera.Server.SignIn;

namespace Tessera.Server.Credentials;

public static class CredentialsEndpoints
{
    /// <summary>Per client address: forgotten-password and reset requests (API and pages).</summary>
    public const string RateLimitPolicy = RateLimits.Credentials;

    public static IServiceCollection AddTesseraCredentials(this IServiceCollection services)
    {
        services.AddScoped<PasswordService>();
        services.AddSingleton<PasswordPolicyCache>();
        services.AddScoped<CredentialService>();
        services.AddScoped<ICredentialMail, CredentialMail>();
        services.AddScoped<Users.IUserCreatedListener>(sp => sp.GetRequiredService<CredentialService>());
        services.AddSingleton<EmailThrottle>();
        return services;
    }

    public static IEndpointRouteBuilder MapCredentials(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Credentials");

        api.MapGet("/password-policy", async (CredentialService service, CancellationToken ct) => Results.Ok(await service.PolicyAsync(ct)))
            .RequirePrivilege(Privileges.ManagePasswordPolicy);
        api.MapPut("/password-policy", async (PasswordPolicy policy, CredentialService service, CancellationToken ct) => (await service.SetPolicyAsync(policy, ct)).ToOk())
            .RequirePrivilege(Privileges.ManagePasswordPolicy).Approvable().WithSummary("Replaces the password policy; every setting is validated.");

        api.MapPost("/users/{id:guid}/invitation", async (Guid id, CredentialService service, CancellationToken ct) =>
            await service.SendInvitationAsync(id, ct) is { } failure ? Problems.From(failure) : Results.Accepted())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Sends a new set-password invitation; earlier links stop working.");
        api.MapPost("/users/{id:guid}/password", async (Guid id, PasswordRequest request, CredentialService service, CancellationToken ct) =>
            (await service.AdminSetAsync(id, request, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Sets the user's password (new + confirm); how API users' secrets are created and rotated.");
        api.MapPost("/users/{id:guid}/unlock", async (Guid id, CredentialService service, CancellationToken ct) => (await service.UnlockAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated();
        api.MapPost("/me/password", async (ChangeOwnPasswordRequest request, HttpContext http, CredentialService service, CancellationToken ct) =>
            (await service.ChangeOwnAsync(Guid.Parse(http.User.FindFirst(TesseraClaims.Subject)!.Value), request, ct)).ToNoContent())
            .RequireCaller().RequireRateLimiting(RateLimits.OwnPassword)
            .WithSummary("Changes the caller's own password (current, new, confirm); ends their tokens and sessions. A wrong current password counts toward the lockout.");

        api.MapPost("/password/forgot", async (ForgotPasswordRequest request, CredentialService service, EmailThrottle throttle, CancellationToken ct) =>
        {
            var started = TimeProvider.System.GetTimestamp();
            if (throttle.Allow(request.UsernameOrEmail))
            {
                await service.ForgotAsync(request.UsernameOrEmail, ct);
            }

            // The same answer, in about the same time, whether or not anyone has that username or email.
            var spent = TimeProvider.System.GetElapsedTime(started);
            if (spent < EmailThrottle.ResponseFloor)
            {
                await Task.Delay(EmailThrottle.ResponseFloor - spent, ct);
            }

            return Results.Accepted(value: new { message = "If an account can use that email address, a reset link is on its way." });
        }).AllowAnonymous().RequireRateLimiting(RateLimitPolicy).WithSummary("Sends a reset link to an eligible user's email, found by login (a username or an email address) or email; answers the same whoever is named.");

        api.MapPost("/password/reset", async (ResetPasswordRequest request, CredentialService service, CancellationToken ct) =>
            (await service.ResetAsync(request, ct)).ToNoContent())
            .AllowAnonymous().RequireRateLimiting(RateLimitPolicy).WithSummary("Sets a password with a reset or invitation link's token.");

        return app;
    }
}

/// <summary>At most a few reset emails per address per hour, so the form cannot flood anyone's inbox.</summary>
public sealed class EmailThrottle(TimeProvider clock)
{
    public static readonly TimeSpan ResponseFloor = TimeSpan.FromMilliseconds(250);
    private const int PerHour = 5;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (int Count, DateTime Since)> _counts = new();

    public bool Allow(string? email)
    {
        var key = Core.Users.Usernames.Normalize(email ?? "");
        var now = clock.GetUtcNow().UtcDateTime;
        if (_counts.Count > 100_000)
        {
            _counts.Clear();
        }

        var entry = _counts.AddOrUpdate(key, _ => (1, now), (_, old) => now - old.Since > TimeSpan.FromHours(1) ? (1, now) : (old.Count + 1, old.Since));
        return entry.Count <= PerHour;
    }
}
