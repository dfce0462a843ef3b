using Tessera.Core.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Users;

public static class UsersEndpoints
{
    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/v1/users").WithTags("Users");

        users.MapGet("/", async ([AsParameters] UserQuery query, UserSearch search, CancellationToken ct) => (await search.SearchAsync(query, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).Produces<UserPage>()
            .WithSummary("Lists users: prefix filters id, username, firstName, lastName, email; role, group, type, status; q substring; expiring (days); sort; keyset cursor both ways (nextCursor, previousCursor); includeTotal.");

        users.MapPost("/", async (CreateUserRequest request, UserService service, CancellationToken ct) =>
        {
            var outcome = await service.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/users/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Creates a user; API users get the System role.");

        users.MapPost("/bulk", async (BulkUsersRequest request, BulkUserActions bulk, CancellationToken ct) => (await bulk.RunAsync(request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().Produces<BulkUsersResponse>()
            .WithSummary("One action (enable, disable, add_role, remove_role, resend_invitation, delete) over 1 to 200 users, each its own change; a result per user in request order.");

        users.MapGet("/{id:guid}", async (Guid id, UserService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).Produces<UserResponse>();

        users.MapPatch("/{id:guid}", async (Guid id, UpdateUserRequest request, UserService service, CancellationToken ct) => (await service.UpdateAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().WithSummary("Changes the members given; status 'disabled' or 'active' (enable, unlock).");

        users.MapDelete("/{id:guid}", async (Guid id, UserService service, CancellationToken ct) => (await service.DeleteAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageUsers).Delegated();

        users.MapPut("/{id:guid}/roles", async (Guid id, ChangeRolesRequest request, UserService service, CancellationToken ct) => (await service.ChangeRolesAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageUsers).Delegated().Produces<UserResponse>()
            .WithSummary("Replaces the user's direct roles (\"Change roles\"); each a role name or {name, validFrom, validUntil}.");

        users.MapGet("/{id:guid}/permissions", async (Guid id, UserService service, CancellationToken ct) => (await service.PermissionsAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).WithSummary("The user's effective privileges and rules, each with its source.");

        return app;
    }
}
