using System.ComponentModel;
using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Roles;

public static class RolesEndpoints
{
    public static IEndpointRouteBuilder MapRoles(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Roles");
        api.MapGet("/privileges", async (RoleService roles, CancellationToken ct) => Results.Ok(await roles.PrivilegesAsync(ct)))
            .RequirePrivilege(Privileges.ViewRoles).WithSummary("The privilege catalog.");
        api.MapGet("/roles", async (RoleService roles, CancellationToken ct) => Results.Ok(new { items = await roles.ListAsync(ct) }))
            .RequirePrivilege(Privileges.ViewRoles);
        api.MapPost("/roles", async (RoleRequest request, RoleService roles, CancellationToken ct) =>
        {
            var outcome = await roles.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/roles/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).RequirePrivilege(Privileges.ManageRoles).Delegated();
        api.MapGet("/roles/export", async ([Description("Comma-separated role names to export; all roles when left out.")] string? names, RoleService roles, CancellationToken ct) => Results.Ok(await roles.ExportAsync(names, ct)))
            .RequirePrivilege(Privileges.ViewRoles).WithSummary("All roles, or ?names=a,b, as one document to import elsewhere.");
        api.MapPost("/roles/import", async ([Description("merge (the default): create and update; replace: also delete the custom roles the document lacks.")] string? mode, RoleDocument document, RoleService roles, CancellationToken ct) => (await roles.ImportAsync(mode, document, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageRoles).Delegated().WithSummary("mode=merge (create and update) or replace (also delete custom roles the document lacks).");
        api.MapGet("/roles/{id:guid}", async (Guid id, RoleService roles, CancellationToken ct) => (await roles.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewRoles);
        api.MapGet("/roles/{id:guid}/holders", async (Guid id, [AsParameters] RoleHolderQuery query, RoleHolders holders, CancellationToken ct) => (await holders.ListAsync(id, query, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewRoles).RequirePrivilege(Privileges.ViewUsers).Produces<RoleHolderPage>()
            .WithSummary("The role's holders, direct and through groups, with validity; keyset cursor. Needs VIEW_USERS as well, since it lists users.");
        api.MapPut("/roles/{id:guid}", async (Guid id, RoleRequest request, RoleService roles, CancellationToken ct) => (await roles.UpdateAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageRoles).Delegated();
        api.MapDelete("/roles/{id:guid}", async (Guid id, RoleService roles, CancellationToken ct) => (await roles.DeleteAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageRoles).Delegated();
        api.MapGet("/resources", async (RoleService roles, CancellationToken ct) => Results.Ok(await roles.ResourcesAsync(ct)))
            .RequirePrivilege(Privileges.ViewRoles).WithSummary("The resources and actions that permission rules may name.");
        api.MapPut("/resources", async (ResourceCatalog catalog, RoleService roles, CancellationToken ct) => (await roles.ReplaceResourcesAsync(catalog, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageResources).Produces<ResourceCatalog>()
            .WithSummary("Replaces the resource catalog (applications register what they know). With the version read, refused (409 resource_catalog_changed) when the catalog changed since.");
        return app;
    }
}
