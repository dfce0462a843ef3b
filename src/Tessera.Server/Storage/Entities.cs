using Tessera.Core.Common;
using Tessera.Core.Users;

namespace Tessera.Server.Storage;

/// <summary>A person or a system known to Tessera.</summary>
public sealed class User
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Username { get; set; }
    public required string NormalizedUsername { get; set; }
    public required string Email { get; set; }
    public required string NormalizedEmail { get; set; }

    /// <summary>The confusable skeleton of the username and of the email (<see cref="Skeletons"/>); empty until computed.</summary>
    public string UsernameSkeleton { get; set; } = "";
    public string EmailSkeleton { get; set; } = "";
    public string FirstName { get; set; } = "";
    public string LastName { get; set; } = "";

    /// <summary>Upper-cased username, names and email in one column, for the substring search (`q`).</summary>
    public string SearchText { get; set; } = "";

    /// <summary>Upper-cased names, so that prefix filters use an index instead of a function scan.</summary>
    public string NormalizedFirstName { get; set; } = "";
    public string NormalizedLastName { get; set; } = "";
    public UserType Type { get; set; }
    public UserStatus Status { get; set; }
    public CredentialMode CredentialMode { get; set; }
    public string? PasswordHash { get; set; }
    public DateTime? PasswordChangedAt { get; set; }

    /// <summary>Changes whenever credentials or standing change; every session and token carries it.</summary>
    public string SecurityStamp { get; set; } = NewStamp();
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? LastSignInAt { get; set; }
    public int FailedSignInCount { get; set; }
    public DateTime? LockedUntil { get; set; }

    /// <summary>The Back Office language (`en`, `de`) the user chose on the profile page; null follows the browser.</summary>
    public string? Language { get; set; }

    /// <summary>The IANA time zone in which the Back Office shows this user dates; null shows UTC.</summary>
    public string? TimeZone { get; set; }
    public List<UserRole> Roles { get; set; } = [];
    public List<GroupMember> Groups { get; set; } = [];

    public static string NewStamp() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Status, lock end and failed sign-ins as one value, for the life-cycle rules (no column of its own).</summary>
    public AccountStanding Standing => new(Status, LockedUntil, FailedSignInCount);

    /// <summary>Whether the user ever had a credential: a password set, or a sign-in (SSO users have no password).</summary>
    public bool HasHadCredential => PasswordHash is not null || LastSignInAt is not null;

    /// <summary>
    /// Stores a life-cycle transition, as in <c>user.Apply(user.Standing.Disable())</c>. True when the standing changed,
    /// so that the caller renews the stamp or records the change only then.
    /// </summary>
    public bool Apply(AccountStanding standing)
    {
        if (standing == Standing)
        {
            return false;
        }

        Status = standing.Status;
        LockedUntil = standing.LockedUntil;
        FailedSignInCount = standing.FailedSignInCount;
        return true;
    }

    public void SetUsername(string username)
    {
        Username = username.Trim();
        NormalizedUsername = Usernames.Normalize(username);
        UsernameSkeleton = Skeletons.Of(username);
        UpdateSearchText();
    }

    public void SetEmail(string email)
    {
        Email = Usernames.Canonical(email);
        NormalizedEmail = Usernames.Normalize(email);
        EmailSkeleton = Skeletons.Of(email);
        UpdateSearchText();
    }

    public void SetNames(string? firstName, string? lastName)
    {
        FirstName = firstName?.Trim() ?? "";
        LastName = lastName?.Trim() ?? "";
        NormalizedFirstName = FirstName.ToUpperInvariant();
        NormalizedLastName = LastName.ToUpperInvariant();
        UpdateSearchText();
    }

    private void UpdateSearchText() => SearchText = $"{NormalizedUsername} {NormalizedFirstName} {NormalizedLastName} {NormalizedEmail}";
}

/// <summary>A named bundle of privileges and permission rules.</summary>
public sealed class Role
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public required string NormalizedName { get; set; }

    /// <summary>The confusable skeleton of the name (<see cref="Skeletons"/>); empty until computed.</summary>
    public string NameSkeleton { get; set; } = "";
    public string Description { get; set; } = "";
    public bool IsBuiltIn { get; set; }

    /// <summary>Granting this role needs a second person when the approval policy lists <c>grant_role</c>.</summary>
    public bool RequiresApproval { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public List<RolePrivilege> Privileges { get; set; } = [];
    public List<RolePermission> Permissions { get; set; } = [];

    public void SetName(string name)
    {
        Name = name.Trim();
        NormalizedName = Name.ToUpperInvariant();
        NameSkeleton = Skeletons.Of(Name);
    }
}

/// <summary>A privilege of the catalog, as stored so that roles can reference it.</summary>
public sealed class Privilege
{
    public required string Name { get; set; }
    public string Description { get; set; } = "";
}

public sealed class RolePrivilege
{
    public Guid RoleId { get; set; }
    public required string Privilege { get; set; }
}

/// <summary>One allow or deny rule of a role over a resource and an action.</summary>
public sealed class RolePermission
{
    public long Id { get; set; }
    public Guid RoleId { get; set; }
    public required string Resource { get; set; }
    public required string Action { get; set; }
    public required string Effect { get; set; }
}

public sealed class UserRole
{
    public Guid UserId { get; set; }
    public Guid RoleId { get; set; }
    public Role? Role { get; set; }

    /// <summary>When the grant begins to count (inclusive); null from the start.</summary>
    public DateTime? ValidFrom { get; set; }

    /// <summary>When the grant stops counting (exclusive); null for good.</summary>
    public DateTime? ValidUntil { get; set; }

    /// <summary>When the sweep wrote the <c>access.expired</c> event for this grant's end (written once).</summary>
    public DateTime? LapseRecordedAt { get; set; }

    public Tessera.Core.Governance.Validity Validity => new(ValidFrom, ValidUntil);
}

/// <summary>A set of users that share roles.</summary>
public sealed class Group
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public required string NormalizedName { get; set; }

    /// <summary>The confusable skeleton of the name (<see cref="Skeletons"/>); empty until computed.</summary>
    public string NameSkeleton { get; set; } = "";
    public string Description { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public List<GroupRole> Roles { get; set; } = [];
    public List<GroupMember> Members { get; set; } = [];

    public void SetName(string name)
    {
        Name = name.Trim();
        NormalizedName = Name.ToUpperInvariant();
        NameSkeleton = Skeletons.Of(Name);
    }
}

/// <summary>
/// The confusable skeleton as stored beside a name, so that a look-alike is found by an index rather than by reading
/// every name. Cut at <see cref="MaxLength"/> characters: a prototype can be longer than its character, and an
/// index entry has a size limit. Two names that agree over that many skeleton characters count as look-alikes.
/// A name made only of characters that show nothing gets one space, so that an empty column always means "not
/// computed yet" (<see cref="SkeletonBackfill"/>).
/// </summary>
public static class Skeletons
{
    public const int MaxLength = 512;

    public static string Of(string name)
    {
        var skeleton = Confusables.Skeleton(name);
        return skeleton.Length == 0 ? " " : skeleton.Length > MaxLength ? skeleton[..MaxLength] : skeleton;
    }
}

public sealed class GroupRole
{
    public Guid GroupId { get; set; }
    public Guid RoleId { get; set; }
    public Role? Role { get; set; }
}

public sealed class GroupMember
{
    public Guid GroupId { get; set; }
    public Guid UserId { get; set; }
    public Group? Group { get; set; }

    /// <summary>When the membership begins to count (inclusive); null from the start.</summary>
    public DateTime? ValidFrom { get; set; }

    /// <summary>When the membership stops counting (exclusive); null for good.</summary>
    public DateTime? ValidUntil { get; set; }

    /// <summary>When the sweep wrote the <c>access.expired</c> event for this membership's end (written once).</summary>
    public DateTime? LapseRecordedAt { get; set; }

    public Tessera.Core.Governance.Validity Validity => new(ValidFrom, ValidUntil);
}

/// <summary>A single-use link secret (invitation or reset), stored only as its hash.</summary>
public sealed class CredentialToken
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public required string Purpose { get; set; }
    public required string TokenHash { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? UsedAt { get; set; }
}

/// <summary>An append-only record of a change or a sign-in: who, what, when.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTime At { get; set; }
    public Guid? ActorId { get; set; }
    public string ActorName { get; set; } = "";
    public required string Action { get; set; }
    public string Outcome { get; set; } = "success";
    public string? TargetType { get; set; }
    public string? TargetId { get; set; }
    public string? TargetName { get; set; }

    /// <summary>JSON object of the changed fields (never secrets).</summary>
    public string? Details { get; set; }
    public string? ClientIp { get; set; }
    public string? UserAgent { get; set; }
}

/// <summary>A named piece of installation state (policy, bootstrap markers).</summary>
public sealed class Setting
{
    public required string Key { get; set; }
    public required string Value { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>An access token revoked before its expiry (RFC 7009), kept until it would have expired.</summary>
public sealed class RevokedToken
{
    public required string TokenId { get; set; }
    public DateTime ExpiresAt { get; set; }
}

/// <summary>An identity at an SSO provider, remembered after the first sign-in matched it to a user.</summary>
public sealed class ExternalLogin
{
    public required string Provider { get; set; }
    public required string Subject { get; set; }
    public Guid UserId { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// A WebAuthn credential (passkey) of a Back Office user. The public key is a COSE key and no secret: only the
/// authenticator holds the private key. The credential id is unique across all users (a second registration of
/// the same authenticator credential is refused).
/// </summary>
public sealed class Passkey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public required byte[] CredentialId { get; set; }
    public required byte[] PublicKey { get; set; }

    /// <summary>The authenticator's signature counter as last seen; 0 for authenticators that do not count.</summary>
    public long SignatureCounter { get; set; }

    /// <summary>The WebAuthn user handle the credential was created for (the user's id as 16 bytes).</summary>
    public required byte[] UserHandle { get; set; }
    public Guid AaGuid { get; set; }

    /// <summary>The transports the browser reported (comma-separated, e.g. "internal,hybrid"), as hints for later ceremonies.</summary>
    public string Transports { get; set; } = "";
    public required string Name { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
}

/// <summary>
/// One named credential of an API user: a secret it presents at the token endpoint, or a public key that its
/// signed client assertions (private_key_jwt) are checked against. Only a hash of a secret is kept: SHA-256 for
/// a generated one (256 random bits need no key stretching), PBKDF2 for the administrator-chosen <c>initial</c>.
/// </summary>
public sealed class ApiCredential
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public required string Name { get; set; }
    public required string NormalizedName { get; set; }
    public Tessera.Core.Credentials.ApiCredentialType Type { get; set; }

    /// <summary>"sha256:" and the Base64 digest of a generated secret, or an ASP.NET Core Identity (PBKDF2) hash; null for a key.</summary>
    public string? SecretHash { get; set; }

    /// <summary>The public JWK as registered (private members refused), with "kid" set to its thumbprint; null for a secret.</summary>
    public string? PublicKeyJwk { get; set; }

    /// <summary>The RFC 7638 thumbprint of the key (base64url SHA-256).</summary>
    public string? Thumbprint { get; set; }

    /// <summary>"RSA 2048", "EC P-256": what the Back Office shows.</summary>
    public string? KeyType { get; set; }
    public DateTime CreatedAt { get; set; }
    public Guid? CreatedById { get; set; }
    public string? CreatedBy { get; set; }
    public DateTime? ExpiresAt { get; set; }
    public DateTime? LastUsedAt { get; set; }

    /// <summary>The last expiry warning sent (14 or 3 days before), so that each goes out once.</summary>
    public int? ExpiryNoticeDays { get; set; }

    public const string Sha256Prefix = "sha256:";
}

/// <summary>A client assertion's jti, kept until the assertion expires, so that a replay is refused (RFC 7523 §3).</summary>
public sealed class ClientAssertionId
{
    public Guid UserId { get; set; }
    public required string Jti { get; set; }
    public DateTime ExpiresAt { get; set; }
}

/// <summary>A message waiting to be sent, written in the same transaction as the change that causes it.</summary>
public sealed class OutboxMessage
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string To { get; set; }
    public required string Subject { get; set; }
    public required string TextBody { get; set; }
    public string? HtmlBody { get; set; }

    /// <summary>`pending`, `sent` or `failed` (gave up after the last retry).</summary>
    public string Status { get; set; } = "pending";
    public int Attempts { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime NextAttemptAt { get; set; }
    public DateTime? SentAt { get; set; }
    public string? LastError { get; set; }
}

/// <summary>A former password hash, so the policy can refuse reuse of the last N.</summary>
public sealed class PasswordHistoryEntry
{
    public long Id { get; set; }
    public Guid UserId { get; set; }
    public required string PasswordHash { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>A resource that permission rules may name, with the actions it knows.</summary>
public sealed class ResourceAction
{
    public required string Resource { get; set; }
    public required string Action { get; set; }
}

/// <summary>A storefront customer: a separate directory that never gets back-office access.</summary>
public sealed class Customer
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>The shop's own key for the customer; imports upsert by it.</summary>
    public required string Reference { get; set; }
    public required string NormalizedReference { get; set; }
    public required string Email { get; set; }
    public required string NormalizedEmail { get; set; }
    public string FirstName { get; set; } = "";
    public string LastName { get; set; } = "";

    /// <summary>Upper-cased reference, names and email, for the agents' substring search.</summary>
    public string SearchText { get; set; } = "";

    /// <summary>`active` or `disabled`.</summary>
    public string Status { get; set; } = "active";
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>Which customers an agent may assist: `all`, or only those assigned.</summary>
public sealed class AgentScope
{
    public Guid UserId { get; set; }
    public string Scope { get; set; } = "assigned";
}

/// <summary>A customer assigned to an agent whose scope is `assigned`.</summary>
public sealed class AgentCustomer
{
    public Guid UserId { get; set; }
    public Guid CustomerId { get; set; }
}

/// <summary>One start of acting on a customer's behalf: who, for whom, why, until when.</summary>
public sealed class AgentSession
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid AgentId { get; set; }
    public string AgentUsername { get; set; } = "";
    public Guid CustomerId { get; set; }
    public string CustomerReference { get; set; } = "";
    public string Reason { get; set; } = "";
    public DateTime StartedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public string? TokenId { get; set; }
}

/// <summary>
/// One Back Office session: the cookie holds only a protected reference to this record, which is the truth about the
/// session (who, since when, proven how, until when); ending the record ends the session on every instance at once.
/// </summary>
public sealed class WebSession
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }

    /// <summary>The digest of the user's security stamp at sign-in: a later stamp ends the session.</summary>
    public string StampDigest { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime LastSeenAt { get; set; }

    /// <summary>The absolute end, however active the session is.</summary>
    public DateTime ExpiresAt { get; set; }
    public string? ClientAddress { get; set; }
    public string UserAgent { get; set; } = "";

    /// <summary>The authentication methods proven (RFC 8176), space-separated.</summary>
    public string Amr { get; set; } = "";
    public DateTime? SecondFactorAt { get; set; }
    public DateTime? EndedAt { get; set; }
    public string? EndReason { get; set; }
}

/// <summary>A user's TOTP authenticator (RFC 6238): one per user, confirmed by a first valid code.</summary>
public sealed class TotpAuthenticator
{
    public Guid UserId { get; set; }

    /// <summary>The shared key, protected with Data Protection (never stored or logged in the clear).</summary>
    public required string ProtectedSecret { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>Null while enrolment awaits its first valid code: until then the authenticator is no second factor.</summary>
    public DateTime? ConfirmedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }

    /// <summary>The last accepted time step: a code of this step or an earlier one is refused, so each code works once.</summary>
    public long LastTimeStep { get; set; }
}

/// <summary>A single-use recovery code, stored only as its hash.</summary>
public sealed class RecoveryCode
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public required string CodeHash { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? UsedAt { get; set; }
}
