using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.ApiCredentials;

public static class ApiCredentialEndpoints
{
    public static IServiceCollection AddTesseraApiCredentials(this IServiceCollection services)
    {
        services.AddScoped<ApiCredentialService>();
        services.AddOptions<ApiCredentialOptions>().BindConfiguration(ApiCredentialOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        // One instance, so that tests (and an operator's tooling) can ask it for a look now.
        services.AddSingleton<CredentialExpiryWarnings>();
        services.AddHostedService(sp => sp.GetRequiredService<CredentialExpiryWarnings>());
        return services;
    }

    public static IEndpointRouteBuilder MapApiCredentials(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/users/{id:guid}/credentials").WithTags("API credentials");

        api.MapGet("", async (Guid id, ApiCredentialService service, CancellationToken ct) =>
        {
            var listed = await service.ListAsync(id, ct);
            return listed.Succeeded ? Results.Ok(new ApiCredentialList(listed.Value!)) : Problems.From(listed.Failure!);
        })
            .RequirePrivilege(Privileges.ViewUsers)
            .Produces<ApiCredentialList>()
            .WithSummary("An API user's credentials: id, name, type, createdAt, createdBy, expiresAt, lastUsedAt, expired (and a key's thumbprint, keyType and public jwk). Never a secret.");

        api.MapPost("", async (Guid id, CreateApiCredentialRequest request, ApiCredentialService service, CancellationToken ct) =>
        {
            var added = await service.AddAsync(id, request, ct);
            return added.Succeeded
                ? Results.Created($"/api/v1/users/{id}/credentials/{added.Value!.Id}", added.Value)
                : Problems.From(added.Failure!);
        })
            .RequirePrivilege(Privileges.ManageUsers).Delegated()
            .Produces<ApiCredentialResponse>(StatusCodes.Status201Created)
            .WithSummary("Adds a credential to an API user: {\"name\",\"type\":\"secret\",\"expiresAt\"?} generates a 256-bit secret, returned once in this answer; "
                + "{\"name\",\"type\":\"public_key\",\"jwk\"|\"pem\",\"expiresAt\"?} registers an RSA (2048 bits or more) or EC P-256 public key for private_key_jwt.");

        api.MapDelete("/{credentialId:guid}", async (Guid id, Guid credentialId, ApiCredentialService service, CancellationToken ct) =>
            (await service.DeleteAsync(id, credentialId, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated()
            .WithSummary("Deletes one credential of an API user; from then on it authenticates nothing. Rotation: add the new one, move the client, delete the old.");

        return app;
    }
}
