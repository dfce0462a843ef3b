using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Customers;

public static class CustomersEndpoints
{
    public static IEndpointRouteBuilder MapCustomers(this IEndpointRouteBuilder app)
    {
        var customers = app.MapGroup("/api/v1/customers").WithTags("Customers").RequirePrivilege(Privileges.ManageCustomers);

        customers.MapGet("/", async ([AsParameters] CustomerQuery query, CustomerSearch search, CancellationToken ct) => (await search.SearchAsync(query, ct)).ToOk())
            .WithSummary("Lists storefront customers: q substring of reference, names or email; status; keyset cursor.");

        customers.MapPost("/", async (CreateCustomerRequest request, CustomerService service, CancellationToken ct) =>
        {
            var outcome = await service.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/customers/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).WithSummary("Creates a customer; reference and email are unique ignoring case.");

        customers.MapPost("/import", async (ImportCustomersRequest request, CustomerService service, CancellationToken ct) => (await service.ImportAsync(request, ct)).ToOk())
            .WithSummary($"Upserts up to {CustomerService.MaxImportRows} customers by reference, all or nothing: a batch with a rejected row writes nothing (400 import_rejected).");

        customers.MapGet("/{id:guid}", async (Guid id, CustomerService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk());

        customers.MapGet("/{id:guid}/agents", async (Guid id, AgentAssist.AgentScopeService scopes, CancellationToken ct) => (await scopes.AgentsOfAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).Produces<CustomerAgents>()
            .WithSummary("The BackOffice users whose agent scope holds the customer (via 'all' or 'assigned'), by username; needs VIEW_USERS as well.");

        customers.MapPatch("/{id:guid}", async (Guid id, UpdateCustomerRequest request, CustomerService service, CancellationToken ct) => (await service.UpdateAsync(id, request, ct)).ToOk())
            .WithSummary("Changes the members given; status 'active' or 'disabled'.");

        customers.MapDelete("/{id:guid}", async (Guid id, CustomerService service, CancellationToken ct) => (await service.DeleteAsync(id, ct)).ToNoContent());

        return app;
    }
}
