using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.Mfa;

public static class MfaEndpoints
{
    public static IServiceCollection AddTesseraMfa(this IServiceCollection services)
    {
        services.AddSingleton<TotpKeys>();
        services.AddScoped<MfaMethods>();
        services.AddScoped<MfaPolicyService>();
        services.AddScoped<StepUp>();
        return services;
    }

    public static IEndpointRouteBuilder MapMfa(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Multi-factor authentication");

        api.MapGet("/mfa-policy", async (MfaPolicyService service, CancellationToken ct) => Results.Ok(await service.PolicyAsync(ct)))
            .RequirePrivilege(Privileges.ManageAuthenticationPolicy)
            .WithSummary("The MFA policy: who needs a second factor (required, requiredRoles), stepUpMinutes, trustProviderMfa.");
        api.MapPut("/mfa-policy", async (MfaPolicy? policy, MfaPolicyService service, CancellationToken ct) => (await service.SetAsync(policy, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageAuthenticationPolicy)
            .Approvable().WithSummary("Replaces the MFA policy; 400 invalid_mfa_policy for a bad value, 400 unknown_role for a role name that names no role.");

        api.MapGet("/users/{id:guid}/mfa", async (Guid id, MfaMethods methods, TesseraDbContext db, CancellationToken ct) =>
            await db.Users.FindAsync([id], ct) is null
                ? Problems.From(Failure.NotFound($"No user has the id {id}."))
                : Results.Ok(new MfaMethodsResponse(await methods.ListAsync(id, ct))))
            .RequirePrivilege(Privileges.ViewUsers)
            .WithSummary("The user's enrolled second factors (totp, recovery_codes with the count left, passkeys) with when each was set up and last used.");
        api.MapDelete("/users/{id:guid}/mfa", async (Guid id, MfaMethods methods, CancellationToken ct) => (await methods.ResetAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated()
            .WithSummary("Resets the user's MFA: removes every second factor and ends their sessions and tokens; they enrol again at the next sign-in.");
        return app;
    }
}

/// <summary>A user's enrolled second factors.</summary>
public sealed record MfaMethodsResponse(IReadOnlyList<MfaMethodResponse> Methods);
