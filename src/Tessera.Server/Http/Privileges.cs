using Microsoft.AspNetCore.Authorization;
using Tessera.Server.SignIn;

namespace Tessera.Server.Http;

/// <summary>
/// Endpoint metadata naming the privilege an endpoint needs (read by the routing-table test and the docs);
/// <see cref="AnyOf"/> lists them when any one of several will do (<see cref="Privilege"/> then reads "A or B").
/// </summary>
public sealed record RequiresPrivilegeAttribute(string Privilege)
{
    public IReadOnlyList<string> AnyOf { get; init; } = [Privilege];
}

/// <summary>Endpoint metadata for endpoints that any signed-in caller may use (their own profile, say).</summary>
public sealed record RequiresCallerAttribute;

/// <summary>The caller must currently hold the privilege (or one of <see cref="AnyOf"/>), through any of their roles.</summary>
public sealed record PrivilegeRequirement(string Privilege) : IAuthorizationRequirement
{
    public IReadOnlyList<string> AnyOf { get; init; } = [Privilege];
}

/// <summary>Decides privilege requirements from the caller's current standing, not from the token's claims.</summary>
public sealed class PrivilegeHandler(CallerDirectory callers, TimeProvider clock) : AuthorizationHandler<PrivilegeRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, PrivilegeRequirement requirement)
    {
        if (!Guid.TryParse(context.User.FindFirst(TesseraClaims.Subject)?.Value, out var id))
        {
            return;
        }

        var caller = await callers.GetAsync(id, CancellationToken.None);
        if (caller is not null && caller.MayAct(clock.GetUtcNow().UtcDateTime) && requirement.AnyOf.Any(caller.Privileges.Contains))
        {
            context.Succeed(requirement);
        }
    }
}

public static class EndpointPrivileges
{
    /// <summary>Bearer token required, and the named privilege.</summary>
    public static TBuilder RequirePrivilege<TBuilder>(this TBuilder builder, string privilege) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new RequiresPrivilegeAttribute(privilege));
        return builder.RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(TokenServer.BearerScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new PrivilegeRequirement(privilege)));
    }

    /// <summary>Bearer token required, and any one of the named privileges.</summary>
    public static TBuilder RequireAnyPrivilege<TBuilder>(this TBuilder builder, params string[] privileges) where TBuilder : IEndpointConventionBuilder
    {
        var named = string.Join(" or ", privileges);
        builder.WithMetadata(new RequiresPrivilegeAttribute(named) { AnyOf = privileges });
        return builder.RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(TokenServer.BearerScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new PrivilegeRequirement(named) { AnyOf = privileges }));
    }

    /// <summary>Bearer token required; no particular privilege.</summary>
    public static TBuilder RequireCaller<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new RequiresCallerAttribute());
        return builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(TokenServer.BearerScheme).RequireAuthenticatedUser());
    }
}

public static class DelegatedChanges
{
    /// <summary>How the OpenAPI document describes the refusals of the delegation rules, on every endpoint that changes the directory.</summary>
    public const string Description =
        "Subject to the delegation rules (README, \"Delegated administration\"): 403 `privilege_ceiling` when the change would hand out "
        + "privileges the caller lacks, 403 `target_outranks_actor` when it acts on an account holding privileges the caller lacks "
        + "(the problem's `privileges` member names them), 409 `self_lockout` when the caller would disable, delete or set the password of "
        + "its own account, or lose its own MANAGE_USERS. Each refusal changes nothing and writes one `access.denied` audit event.";

    /// <summary>Marks an endpoint as a directory change judged by the delegation rules, for the OpenAPI document.</summary>
    public static TBuilder Delegated<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithDescription(Description);
        builder.WithMetadata(new DelegatedChangeAttribute(), new ApprovableChangeAttribute());
        return builder;
    }

    /// <summary>Marks an endpoint whose change the approval policy can send for four-eyes approval (202), for the OpenAPI document.</summary>
    public static TBuilder Approvable<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new ApprovableChangeAttribute());

    /// <summary>
    /// Adds the delegation refusals (403, 409) to the responses of marked operations in the OpenAPI document.
    /// Done here rather than with Produces metadata, which would drop the success response the document infers.
    /// </summary>
    public static void AddRefusals(Microsoft.AspNetCore.OpenApi.OpenApiOptions options)
        => options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<DelegatedChangeAttribute>().Any())
            {
                operation.Responses ??= [];
                operation.Responses.TryAdd("403", new Microsoft.OpenApi.OpenApiResponse
                {
                    Description = "problem+json: `privilege_ceiling` or `target_outranks_actor`, with the `privileges` beyond the caller (or `forbidden` without the endpoint's privilege).",
                });
                operation.Responses.TryAdd("409", new Microsoft.OpenApi.OpenApiResponse
                {
                    Description = "problem+json: `self_lockout`, or an invariant or conflict of the directory (`last_admin`, a taken name, ...).",
                });
            }

            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ApprovableChangeAttribute>().Any())
            {
                operation.Responses ??= [];
                operation.Responses.TryAdd("202", new Microsoft.OpenApi.OpenApiResponse
                {
                    Description = "Sent for four-eyes approval (README, \"Four-eyes approval\"): nothing applied yet; the body is the change request "
                        + "and `Location` its address, /api/v1/change-requests/{id}. Only when the approval policy puts the change under approval.",
                });
            }

            return Task.CompletedTask;
        });
}

/// <summary>Endpoint metadata: a directory change judged by the delegation rules.</summary>
public sealed record DelegatedChangeAttribute;

/// <summary>Endpoint metadata: a change that may be answered 202, sent for four-eyes approval.</summary>
public sealed record ApprovableChangeAttribute;
