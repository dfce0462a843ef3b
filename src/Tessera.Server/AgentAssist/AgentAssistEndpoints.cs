using System.Security.Claims;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Server.Customers;
using Tessera.Server.Http;
using Tessera.Server.SignIn;

namespace Tessera.Server.AgentAssist;

public static class AgentAssistEndpoints
{
    public static IServiceCollection AddTesseraAgentAssist(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AgentAssistOptions>().Bind(configuration.GetSection("Tessera:AgentAssist")).ValidateDataAnnotations()
            .Validate<IOptions<TokenOptions>>((o, tokens) => !string.Equals(o.Audience, tokens.Value.Audience, StringComparison.Ordinal),
                "Tessera:AgentAssist:Audience must differ from Tessera:Tokens:Audience, or impersonation tokens would open the back-office API.")
            .ValidateOnStart();
        services.AddScoped<CustomerService>();
        services.AddScoped<CustomerSearch>();
        services.AddScoped<CustomerCsvImport>();
        services.AddScoped<AgentScopeService>();
        services.AddScoped<ImpersonationService>();
        return services;
    }

    public static IEndpointRouteBuilder MapAgentAssist(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/v1/users").WithTags("Agent assist");
        users.MapGet("/{id:guid}/customers", async (Guid id, AgentScopeService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).WithSummary("The agent's scope ('all' or 'assigned') and assigned customers.");
        users.MapPut("/{id:guid}/customers", async (Guid id, ChangeAgentCustomersRequest request, AgentScopeService service, CancellationToken ct)
                => (await service.ChangeAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Replaces a BackOffice user's agent scope and assigned customers.");

        var agent = app.MapGroup("/api/v1/agent").WithTags("Agent assist");
        agent.MapGet("/customers", async ([AsParameters] CustomerQuery query, ClaimsPrincipal caller, AgentScopeService service, CancellationToken ct) =>
                Guid.TryParse(caller.FindFirstValue(TesseraClaims.Subject), out var id)
                    ? (await service.SearchAsync(id, query, ct)).ToOk()
                    : Problems.Of(StatusCodes.Status401Unauthorized, "unauthorized", "The token names no user."))
            .RequirePrivilege(Privileges.AgentAssist).WithSummary("The caller's customers (their scope only): q substring of reference, names or email; keyset cursor.");
        agent.MapGet("/sessions", async ([AsParameters] AgentSessionQuery query, ImpersonationService service, CancellationToken ct) => (await service.ListAsync(query, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewAuditLog).WithSummary("Impersonation starts, newest first (agent, customer, reason, expiry); keyset cursor.");
        return app;
    }
}
