using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Credentials;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Bootstrap;

/// <summary>`Tessera:Bootstrap`: the first administrators of a new installation.</summary>
public sealed class BootstrapOptions
{
    public string AdminUsername { get; set; } = "admin";
    public string AdminEmail { get; set; } = "admin@tessera.invalid";
    public string? AdminPassword { get; set; }
    public string? ApiClientId { get; set; }
    public string? ApiClientSecret { get; set; }
}

/// <summary>
/// Makes a database ready at every start: the privilege catalog, the built-in roles, the reserved
/// user and the first administrators. Idempotent; never overwrites a password a person has set.
/// </summary>
public sealed class Bootstrapper(
    TesseraDbContext db,
    IOptions<BootstrapOptions> options,
    IOptions<TesseraOptions> tessera,
    IPasswordHasher<User> hasher,
    CredentialTokens tokens,
    AuditLog audit,
    TimeProvider clock,
    ILogger<Bootstrapper> logger)
{
    internal static readonly TimeSpan FirstLinkLifetime = TimeSpan.FromHours(72);

    /// <summary>Settings keys that remember the hash Tessera itself set, to tell it from a person's.</summary>
    private const string AdminMarker = "bootstrap.admin.password";
    private const string ApiMarker = "bootstrap.api.password";

    public async Task RunAsync(CancellationToken ct)
    {
        var o = options.Value;
        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;

        var known = await db.Privileges.ToDictionaryAsync(p => p.Name, ct);
        foreach (var (name, description) in Privileges.Catalog)
        {
            if (known.TryGetValue(name, out var existing))
            {
                existing.Description = description;
            }
            else
            {
                db.Privileges.Add(new Privilege { Name = name, Description = description });
            }
        }

        await db.SaveChangesAsync(ct);

        var administrator = await EnsureRoleAsync(BuiltInRoles.Administrator, "Every privilege.", now, ct);
        var granted = administrator.Privileges.Select(p => p.Privilege).ToHashSet();
        foreach (var (name, _) in Privileges.Catalog.Where(p => !granted.Contains(p.Name)))
        {
            administrator.Privileges.Add(new RolePrivilege { Privilege = name });
        }

        var system = await EnsureRoleAsync(BuiltInRoles.System, "Marks API users; never held by a BackOffice user.", now, ct);
        await db.SaveChangesAsync(ct);

        if (!await db.Users.AnyAsync(u => u.NormalizedUsername == Usernames.ReservedNormalized, ct))
        {
            var reserved = NewUser(Usernames.Reserved, "modular.system@tessera.invalid", UserType.Api, now);
            reserved.SetNames("Modular", "System");
            reserved.Status = UserStatus.Active;
            reserved.Roles.Add(new UserRole { RoleId = system.Id });
            db.Users.Add(reserved);
            audit.Record(db, "user.created", "user", reserved.Id.ToString(), reserved.Username, new { reserved = true }, actor: Actor.System);
        }

        string? firstLink = null;
        var admin = await FindAsync(o.AdminUsername, ct);
        if (admin is null)
        {
            await RefuseLookAlikeAsync(o.AdminUsername, o.AdminEmail, "Tessera:Bootstrap:AdminUsername", "Tessera:Bootstrap:AdminEmail", ct);
            admin = NewUser(o.AdminUsername, o.AdminEmail, UserType.BackOffice, now);
            admin.SetNames("Administrator", "");
            admin.Roles.Add(new UserRole { RoleId = administrator.Id });
            db.Users.Add(admin);
            audit.Record(db, "user.created", "user", admin.Id.ToString(), admin.Username, new { bootstrap = true }, actor: Actor.System);
            if (string.IsNullOrEmpty(o.AdminPassword))
            {
                firstLink = tessera.Value.Link("/set-password?token=" + tokens.Issue(db, admin.Id, TokenPurposes.Invitation, FirstLinkLifetime));
            }
        }

        User? client = null;
        if (!string.IsNullOrWhiteSpace(o.ApiClientId))
        {
            client = await FindAsync(o.ApiClientId, ct);
            if (client is null)
            {
                var clientEmail = o.ApiClientId.Contains('@', StringComparison.Ordinal) ? o.ApiClientId : $"{o.ApiClientId}@tessera.invalid";
                await db.SaveChangesAsync(ct);
                await RefuseLookAlikeAsync(o.ApiClientId, clientEmail, "Tessera:Bootstrap:ApiClientId", "Tessera:Bootstrap:ApiClientId", ct);
                client = NewUser(o.ApiClientId, clientEmail, UserType.Api, now);
                client.SetNames("Bootstrap", "API client");
                client.Roles.Add(new UserRole { RoleId = system.Id });
                client.Roles.Add(new UserRole { RoleId = administrator.Id });
                db.Users.Add(client);
                audit.Record(db, "user.created", "user", client.Id.ToString(), client.Username, new { bootstrap = true }, actor: Actor.System);
            }
        }

        // Each configured secret is checked against its stored hash (a PBKDF2 run of a fraction of a second); both
        // checks run at once, on two cores where there are two, rather than one after the other.
        // The API client's configured secret is its credential named "initial" (a user row from before keeps it in PasswordHash).
        var clientInitial = client is null ? null : await InitialCredentialAsync(client, ct);
        var adminCheck = VerifyConfigured(admin, admin.PasswordHash, o.AdminPassword);
        var clientCheck = client is null ? null : VerifyConfigured(client, clientInitial?.SecretHash ?? client.PasswordHash, o.ApiClientSecret);
        await ApplyConfiguredPasswordAsync(admin, admin.PasswordHash, o.AdminPassword, adminCheck, AdminMarker, now, ct);
        if (client is not null)
        {
            await ApplyConfiguredPasswordAsync(client, clientInitial?.SecretHash ?? client.PasswordHash, o.ApiClientSecret, clientCheck, ApiMarker, now, ct);
        }

        await db.SaveChangesAsync(ct);
        await BootstrapRecord.StoreAsync(db, o, now, ct);
        await tx.CommitAsync(ct);

        if (firstLink is not null)
        {
            // Straight to the console, not to the log: log sinks must never hold a credential.
            Console.WriteLine();
            Console.WriteLine($"Tessera: set the password of the administrator '{admin.Username}' within {FirstLinkLifetime.TotalHours:0} hours:");
            Console.WriteLine($"  {firstLink}");
            // The default MFA policy ("privileged") requires a second factor of administrators: say so before they meet it.
            Console.WriteLine("Then sign in: you will be asked to set up an authenticator app (or a passkey) before anything else,");
            Console.WriteLine("because the default policy requires a second step at sign-in for administrators. Keep the recovery codes it shows.");
            Console.WriteLine();
        }
    }

    /// <summary>
    /// A configured first user that reads like an existing one (an "admіn" beside "admin") would be a second,
    /// confusable account with every privilege: the start stops and names the setting.
    /// </summary>
    private async Task RefuseLookAlikeAsync(string username, string email, string usernameSetting, string emailSetting, CancellationToken ct)
    {
        if (await LookAlikes.UserAsync(db, username, email, null, ct) is { } refusal)
        {
            var setting = refusal.Extensions?["field"] as string == "email" ? emailSetting : usernameSetting;
            throw new InvalidOperationException($"{setting}: {refusal.Detail} Configure the existing user's name, or another one.");
        }
    }

    private async Task<Role> EnsureRoleAsync(string name, string description, DateTime now, CancellationToken ct)
    {
        var normalized = name.ToUpperInvariant();
        var role = await db.Roles.Include(r => r.Privileges).SingleOrDefaultAsync(r => r.NormalizedName == normalized, ct);
        if (role is null)
        {
            role = new Role { Name = "", NormalizedName = "", Description = description, IsBuiltIn = true, CreatedAt = now, UpdatedAt = now };
            role.SetName(name);
            db.Roles.Add(role);
            audit.Record(db, "role.created", "role", role.Id.ToString(), name, new { builtIn = true }, actor: Actor.System);
        }

        role.IsBuiltIn = true;
        return role;
    }

    private Task<User?> FindAsync(string username, CancellationToken ct)
    {
        var normalized = Usernames.Normalize(username);
        return db.Users.SingleOrDefaultAsync(u => u.NormalizedUsername == normalized, ct);
    }

    private static User NewUser(string username, string email, UserType type, DateTime now)
    {
        var user = new User { Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "", Type = type, Status = UserStatus.Invited, CreatedAt = now, UpdatedAt = now };
        user.SetUsername(username);
        user.SetEmail(email);
        return user;
    }

    /// <summary>
    /// Sets a configured password when the user has none, or when the one they have is still the
    /// one Tessera set from configuration; a password a person chose since is left alone.
    /// </summary>
    private Task<PasswordVerificationResult>? VerifyConfigured(User user, string? currentHash, string? configured)
        => string.IsNullOrEmpty(configured) || currentHash is not { } hash || ApiCredentials.ApiSecrets.IsGenerated(hash)
            ? null
            : Task.Run(() => hasher.VerifyHashedPassword(user, hash, configured));

    private Task<ApiCredential?> InitialCredentialAsync(User client, CancellationToken ct)
    {
        var name = Core.Credentials.ApiCredentialRules.NormalizeName(Core.Credentials.ApiCredentialRules.InitialName);
        return db.ApiCredentials.SingleOrDefaultAsync(c => c.UserId == client.Id && c.NormalizedName == name, ct);
    }

    private async Task ApplyConfiguredPasswordAsync(User user, string? currentHash, string? configured, Task<PasswordVerificationResult>? check, string markerKey, DateTime now, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(configured))
        {
            return;
        }

        var marker = await db.Settings.FindAsync([markerKey], ct);
        var ours = currentHash is null || (marker is not null && marker.Value == currentHash);
        if (!ours)
        {
            if (await check! == PasswordVerificationResult.Failed)
            {
                logger.LogWarning("The configured bootstrap password of {Username} was not applied: the password was changed since Tessera set it.", user.Username);
            }

            return;
        }

        if (check is not null && await check != PasswordVerificationResult.Failed)
        {
            return;
        }

        var hash = hasher.HashPassword(user, configured);
        if (user.Type == UserType.Api)
        {
            await ApiCredentials.ApiCredentialService.ReplaceInitialAsync(db, user, hash, null, Actor.System.Name, now, ct);
        }
        else
        {
            user.PasswordHash = hash;
        }

        user.PasswordChangedAt = now;
        user.SecurityStamp = User.NewStamp();
        user.Apply(user.Standing.Reinstate());
        user.UpdatedAt = now;
        await tokens.VoidAllAsync(db, user.Id, ct);
        if (marker is null)
        {
            db.Settings.Add(new Setting { Key = markerKey, Value = hash, UpdatedAt = now });
        }
        else
        {
            marker.Value = hash;
            marker.UpdatedAt = now;
        }

        audit.Record(db, "user.password_set", "user", user.Id.ToString(), user.Username, new { source = "bootstrap configuration" }, actor: Actor.System);
        logger.LogInformation("Applied the configured bootstrap password of {Username}.", user.Username);
    }
}
