using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.Users;

/// <summary>A user as the API shows it. Never carries a password or hash.</summary>
public sealed record UserResponse(
    Guid Id,
    string Username,
    string Email,
    string FirstName,
    string LastName,
    string Type,
    string Status,
    string CredentialMode,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? LastSignInAt,
    int FailedSignInAttempts,
    DateTime? LockedUntil,
    IReadOnlyList<string> Roles,
    IReadOnlyList<string> Groups,
    IReadOnlyList<AssignmentResponse> RoleAssignments,
    IReadOnlyList<AssignmentResponse> GroupMemberships);

/// <summary>
/// A role grant or group membership with its validity: <c>state</c> is active, pending (not begun) or expired (ended,
/// granting nothing, listed until someone removes it).
/// </summary>
public sealed record AssignmentResponse(string Name, DateTime? ValidFrom, DateTime? ValidUntil, string State);

/// <summary>POST /api/v1/users. `password` only for API users; BackOffice users are invited by email.</summary>
public sealed record CreateUserRequest(
    [Required] string? Username,
    [Required] string? Email,
    string? FirstName,
    string? LastName,
    [Required] string? Type,
    string? CredentialMode,
    List<Tessera.Server.Governance.RoleAssignment>? Roles,
    List<string>? Groups,
    string? Password);

/// <summary>PATCH /api/v1/users/{id}: members left out (null) stay as they are.</summary>
public sealed record UpdateUserRequest(
    string? Username,
    string? Email,
    string? FirstName,
    string? LastName,
    string? Status,
    string? CredentialMode,
    string? Type);

/// <summary>PUT /api/v1/users/{id}/roles: the direct roles, replacing the old ones ("Change roles").</summary>
public sealed record ChangeRolesRequest([Required] List<Tessera.Server.Governance.RoleAssignment>? Roles);

/// <summary>
/// One page of users, the cursor of the next (null at the end) and of the previous (null on the first page), and with
/// includeTotal the number of users matching (exact up to 10,000; totalExact false beyond).
/// </summary>
public sealed record UserPage(IReadOnlyList<UserResponse> Items, string? NextCursor)
{
    public string? PreviousCursor { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? Total { get; init; }

    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? TotalExact { get; init; }
}

/// <summary>Where a privilege or rule comes from: a role held directly (group null) or through a group.</summary>
public sealed record SourceResponse(string Role, string? Group);

public sealed record PrivilegeGrantResponse(string Name, IReadOnlyList<SourceResponse> Sources);

public sealed record RuleGrantResponse(string Resource, string Action, string Effect, SourceResponse Source);

/// <summary>GET /api/v1/users/{id}/permissions: the answer to "why may this user do that?".</summary>
public sealed record PermissionsResponse(Guid UserId, IReadOnlyList<PrivilegeGrantResponse> Privileges, IReadOnlyList<RuleGrantResponse> Rules);
