using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Roles;

public sealed record RuleDto([Required] string? Resource, [Required] string? Action, [Required] string? Effect);

public sealed record RoleResponse(Guid Id, string Name, string Description, bool BuiltIn, IReadOnlyList<string> Privileges, IReadOnlyList<RuleDto> Rules, DateTime CreatedAt, DateTime UpdatedAt, bool RequiresApproval = false);

/// <summary>
/// POST /roles and PUT /roles/{id}: the whole definition. <c>requiresApproval</c>: granting the role needs a second
/// person when the approval policy lists <c>grant_role</c>; left out, false for a new role and unchanged on an update.
/// </summary>
public sealed record RoleRequest(string? Name, string? Description, List<string>? Privileges, List<RuleDto>? Rules, bool? RequiresApproval = null);

public sealed record PrivilegeResponse(string Name, string Description);

/// <summary>A role as moved between environments: by name, without ids.</summary>
public sealed record RoleDefinition([Required] string? Name, string? Description, List<string>? Privileges, List<RuleDto>? Rules, bool? RequiresApproval = null);

public sealed record RoleDocument([Required] List<RoleDefinition>? Roles);

public sealed record ImportResult(string Mode, IReadOnlyList<string> Created, IReadOnlyList<string> Updated, IReadOnlyList<string> Deleted, IReadOnlyList<string> Unchanged);

public sealed record ResourceDto([Required] string? Name, List<string>? Actions);

/// <summary>
/// GET|PUT /resources: the resources and actions that permission rules may name. <c>version</c> identifies the catalog
/// as read; a PUT that sends it is refused (409 <c>resource_catalog_changed</c>) when the catalog changed since.
/// </summary>
public sealed record ResourceCatalog(List<ResourceDto>? Resources, string? Version = null);

/// <summary>A role's rule that names a registered resource (action "*" covers all of its actions).</summary>
public sealed record ResourceUse(Guid RoleId, string Role, string Resource, string Action, string Effect);
