using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.AgentAssist;

/// <summary>`Tessera:AgentAssist`: the tokens with which an agent acts on a customer's behalf.</summary>
public sealed class AgentAssistOptions
{
    /// <summary>The audience of impersonation tokens (the storefront); it must differ from Tessera's own API audience.</summary>
    [Required]
    public string Audience { get; set; } = "storefront";

    /// <summary>Lifetime of an impersonation token; there is no refresh.</summary>
    [Range(1, 60)]
    public int TokenMinutes { get; set; } = 10;

    /// <summary>Optional: the storefront address to which the Agent assist page links with `?agent_token=`; unset, the page shows only the token.</summary>
    [Url]
    public string? StorefrontUrl { get; set; }
}

/// <summary>The wire names of agent assist.</summary>
public static class AgentAssistNames
{
    public const string ScopeAll = "all";
    public const string ScopeAssigned = "assigned";

    /// <summary>The public client of the token exchange grant; it has no secret.</summary>
    public const string ClientId = "agent-assist";
    public const string CustomerReferenceTokenType = "urn:tessera:params:customer-reference";
    public const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
    public const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    public const string CustomerReferenceClaim = "customer_reference";
}

/// <summary>An agent's scope: every customer, or those listed.</summary>
public sealed record AgentCustomersResponse(Guid UserId, string Scope, IReadOnlyList<Guid> CustomerIds);

/// <summary>PUT /api/v1/users/{id}/customers: replaces the agent's scope and assigned customers.</summary>
public sealed record ChangeAgentCustomersRequest(string? Scope, List<Guid>? CustomerIds);

/// <summary>An issued impersonation token, for the UI or the token endpoint.</summary>
public sealed record ImpersonationToken(
    string AccessToken,
    DateTime ExpiresAt,
    int ExpiresIn,
    Guid SessionId,
    Guid CustomerId,
    string CustomerReference);

/// <summary>One impersonation start, as GET /api/v1/agent/sessions lists it.</summary>
public sealed record AgentSessionResponse(
    Guid Id,
    Guid AgentId,
    string AgentUsername,
    Guid CustomerId,
    string CustomerReference,
    string Reason,
    DateTime StartedAt,
    DateTime ExpiresAt,
    string? TokenId);

public sealed record AgentSessionPage(IReadOnlyList<AgentSessionResponse> Items, string? NextCursor);

/// <summary>The filters and page of GET /api/v1/agent/sessions.</summary>
public sealed record AgentSessionQuery(
    [property: Description("Sessions of this agent (a user id).")] Guid? AgentId = null,
    [property: Description("Sessions on behalf of this customer (a customer id).")] Guid? CustomerId = null,
    [property: Description("Sessions per page.")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);
