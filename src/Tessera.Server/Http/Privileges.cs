using Microsoft.AspNetCore.Authorization;
using Tessera.Server.SignIn;

namespace Tessera.Server.Http;

/// <summary>Endpoint metadata naming the privilege an endpoint needs (read by the routing-table test and the docs).</summary>
public sealed record RequiresPrivilegeAttribute(string Privilege);

/// <summary>Endpoint metadata for endpoints that any signed-in caller may use (their own profile, say).</summary>
public sealed record RequiresCallerAttribute;

/// <summary>The caller must currently hold the privilege, through any of their roles.</summary>
public sealed record PrivilegeRequirement(string Privilege) : IAuthorizationRequirement;

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
        if (caller is not null && caller.MayAct(clock.GetUtcNow().UtcDateTime) && caller.Privileges.Contains(requirement.Privilege))
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

    /// <summary>Bearer token required; no particular privilege.</summary>
    public static TBuilder RequireCaller<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.WithMetadata(new RequiresCallerAttribute());
        return builder.RequireAuthorization(policy => policy.AddAuthenticationSchemes(TokenServer.BearerScheme).RequireAuthenticatedUser());
    }
}
