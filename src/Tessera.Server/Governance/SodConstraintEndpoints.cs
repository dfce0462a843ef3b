using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Governance;

public static class SodConstraintEndpoints
{
    public static IEndpointRouteBuilder MapSodConstraints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/sod-constraints").WithTags("Governance");
        api.MapGet("", async (SodConstraintService constraints, CancellationToken ct) => Results.Ok(new { items = await constraints.ListAsync(ct) }))
            .RequirePrivilege(Privileges.ManageGovernance).WithSummary("The separation-of-duties constraints.");
        api.MapPost("", async (SodConstraintRequest request, SodConstraintService constraints, CancellationToken ct) =>
        {
            var outcome = await constraints.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/sod-constraints/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).RequirePrivilege(Privileges.ManageGovernance).Delegated()
            .WithSummary("Adds a constraint: nobody may hold more than maxHeld of its roles. 409 sod_existing_violations lists the users who already do.");
        api.MapGet("/{id:guid}", async (Guid id, SodConstraintService constraints, CancellationToken ct) => (await constraints.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGovernance);
        api.MapPut("/{id:guid}", async (Guid id, SodConstraintRequest request, SodConstraintService constraints, CancellationToken ct) => (await constraints.UpdateAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGovernance).Delegated().WithSummary("Replaces a constraint whole; refused like a new one when users already break it.");
        api.MapDelete("/{id:guid}", async (Guid id, SodConstraintService constraints, CancellationToken ct) => (await constraints.DeleteAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageGovernance).Delegated();
        return app;
    }
}
