using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Governance;

/// <summary>POST /sod-constraints and PUT /sod-constraints/{id}: the whole constraint (maxHeld defaults to 1).</summary>
public sealed record SodConstraintRequest([Required] string? Name, string? Description, [Required] List<string>? Roles, int? MaxHeld);

public sealed record SodConstraintResponse(Guid Id, string Name, string Description, IReadOnlyList<string> Roles, int MaxHeld, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>A user who holds more of a constraint's roles than it allows (the <c>violations</c> of <c>sod_existing_violations</c>).</summary>
public sealed record SodHolderResponse(Guid UserId, string Username, IReadOnlyList<string> Roles);
