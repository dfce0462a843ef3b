using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Tessera.Core.Users;

namespace Tessera.Server.Storage;

/// <summary>All of Tessera's state. Each provider has a subclass that owns its migrations.</summary>
public abstract class TesseraDbContext(DbContextOptions options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Role> Roles => Set<Role>();
    public DbSet<Privilege> Privileges => Set<Privilege>();
    public DbSet<RolePrivilege> RolePrivileges => Set<RolePrivilege>();
    public DbSet<RolePermission> RolePermissions => Set<RolePermission>();
    public DbSet<UserRole> UserRoles => Set<UserRole>();
    public DbSet<Group> Groups => Set<Group>();
    public DbSet<GroupRole> GroupRoles => Set<GroupRole>();
    public DbSet<GroupMember> GroupMembers => Set<GroupMember>();
    public DbSet<CredentialToken> CredentialTokens => Set<CredentialToken>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<Setting> Settings => Set<Setting>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<RevokedToken> RevokedTokens => Set<RevokedToken>();
    public DbSet<ExternalLogin> ExternalLogins => Set<ExternalLogin>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<PasswordHistoryEntry> PasswordHistory => Set<PasswordHistoryEntry>();
    public DbSet<ResourceAction> ResourceActions => Set<ResourceAction>();
    public DbSet<Customer> Customers => Set<Customer>();
    public DbSet<AgentScope> AgentScopes => Set<AgentScope>();
    public DbSet<AgentCustomer> AgentCustomers => Set<AgentCustomer>();
    public DbSet<AgentSession> AgentSessions => Set<AgentSession>();
    public DbSet<WebSession> WebSessions => Set<WebSession>();
    public DbSet<TotpAuthenticator> TotpAuthenticators => Set<TotpAuthenticator>();
    public DbSet<RecoveryCode> RecoveryCodes => Set<RecoveryCode>();
    public DbSet<Passkey> Passkeys => Set<Passkey>();
    public DbSet<ApiCredential> ApiCredentials => Set<ApiCredential>();
    public DbSet<ClientAssertionId> ClientAssertionIds => Set<ClientAssertionId>();
    public DbSet<SodConstraint> SodConstraints => Set<SodConstraint>();
    public DbSet<SodConstraintRole> SodConstraintRoles => Set<SodConstraintRole>();
    public DbSet<ChangeRequest> ChangeRequests => Set<ChangeRequest>();
    public DbSet<AccessReview> AccessReviews => Set<AccessReview>();
    public DbSet<AccessReviewReviewer> AccessReviewReviewers => Set<AccessReviewReviewer>();
    public DbSet<AccessReviewItem> AccessReviewItems => Set<AccessReviewItem>();
    public DbSet<WebhookSubscription> WebhookSubscriptions => Set<WebhookSubscription>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public abstract DatabaseProvider Provider { get; }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<UserType>().HaveConversion<UserTypeConverter>().HaveMaxLength(16);
        configurationBuilder.Properties<UserStatus>().HaveConversion<EnumToStringConverter<UserStatus>>().HaveMaxLength(16);
        configurationBuilder.Properties<CredentialMode>().HaveConversion<EnumToStringConverter<CredentialMode>>().HaveMaxLength(16);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var b = modelBuilder;
        b.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasKey(u => u.Id);
            e.Property(u => u.Username).HasMaxLength(Usernames.MaxLength).IsRequired();
            e.Property(u => u.NormalizedUsername).HasMaxLength(Usernames.MaxLength).IsRequired();
            e.Property(u => u.Email).HasMaxLength(Usernames.MaxEmailLength).IsRequired();
            e.Property(u => u.NormalizedEmail).HasMaxLength(Usernames.MaxEmailLength).IsRequired();
            e.Property(u => u.FirstName).HasMaxLength(100);
            e.Property(u => u.LastName).HasMaxLength(100);
            e.Property(u => u.NormalizedFirstName).HasMaxLength(100);
            e.Property(u => u.NormalizedLastName).HasMaxLength(100);
            e.Property(u => u.PasswordHash).HasMaxLength(512);
            e.Property(u => u.SecurityStamp).HasMaxLength(64);
            e.Property(u => u.Language).HasMaxLength(UserPreferences.MaxLanguageLength);
            e.Property(u => u.TimeZone).HasMaxLength(UserPreferences.MaxTimeZoneLength);
            e.HasIndex(u => u.NormalizedUsername).IsUnique();
            e.HasIndex(u => u.NormalizedEmail).IsUnique();
            e.Property(u => u.UsernameSkeleton).HasMaxLength(Skeletons.MaxLength);
            e.Property(u => u.EmailSkeleton).HasMaxLength(Skeletons.MaxLength);
            // Not unique: look-alikes are refused by the use cases, and rows from before the skeletons may hold some.
            e.HasIndex(u => u.UsernameSkeleton);
            e.HasIndex(u => u.EmailSkeleton);
            e.Property(u => u.SearchText).HasMaxLength(600);
            e.HasIndex(u => new { u.NormalizedFirstName, u.NormalizedUsername });
            e.HasIndex(u => new { u.NormalizedLastName, u.NormalizedUsername });
            e.HasIndex(u => new { u.NormalizedEmail, u.NormalizedUsername });
            e.HasIndex(u => new { u.CreatedAt, u.NormalizedUsername });
            e.HasIndex(u => new { u.Type, u.Status });
            e.HasMany(u => u.Roles).WithOne().HasForeignKey(r => r.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(u => u.Groups).WithOne().HasForeignKey(g => g.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<Role>(e =>
        {
            e.ToTable("roles");
            e.HasKey(r => r.Id);
            e.Property(r => r.Name).HasMaxLength(100).IsRequired();
            e.Property(r => r.NormalizedName).HasMaxLength(100).IsRequired();
            e.Property(r => r.Description).HasMaxLength(1000);
            e.HasIndex(r => r.NormalizedName).IsUnique();
            e.Property(r => r.NameSkeleton).HasMaxLength(Skeletons.MaxLength);
            e.HasIndex(r => r.NameSkeleton);
            e.HasMany(r => r.Privileges).WithOne().HasForeignKey(p => p.RoleId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(r => r.Permissions).WithOne().HasForeignKey(p => p.RoleId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<Privilege>(e =>
        {
            e.ToTable("privileges");
            e.HasKey(p => p.Name);
            e.Property(p => p.Name).HasMaxLength(64);
            e.Property(p => p.Description).HasMaxLength(500);
        });

        b.Entity<RolePrivilege>(e =>
        {
            e.ToTable("role_privileges");
            e.HasKey(p => new { p.RoleId, p.Privilege });
            e.Property(p => p.Privilege).HasMaxLength(64);
            e.HasOne<Privilege>().WithMany().HasForeignKey(p => p.Privilege).OnDelete(DeleteBehavior.Restrict);
        });

        b.Entity<RolePermission>(e =>
        {
            e.ToTable("role_permissions");
            e.HasKey(p => p.Id);
            e.Property(p => p.Resource).HasMaxLength(200);
            e.Property(p => p.Action).HasMaxLength(100);
            e.Property(p => p.Effect).HasMaxLength(8);
            e.HasIndex(p => new { p.RoleId, p.Resource, p.Action }).IsUnique();
        });

        b.Entity<UserRole>(e =>
        {
            e.ToTable("user_roles");
            e.HasKey(r => new { r.UserId, r.RoleId });
            e.HasIndex(r => new { r.RoleId, r.UserId });
            // The lapse sweep and the "expiring" filter read only grants that end.
            e.HasIndex(r => r.ValidUntil);
            e.Ignore(r => r.Validity);
            e.HasOne(r => r.Role).WithMany().HasForeignKey(r => r.RoleId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<Group>(e =>
        {
            e.ToTable("groups");
            e.HasKey(g => g.Id);
            e.Property(g => g.Name).HasMaxLength(100).IsRequired();
            e.Property(g => g.NormalizedName).HasMaxLength(100).IsRequired();
            e.Property(g => g.Description).HasMaxLength(1000);
            e.HasIndex(g => g.NormalizedName).IsUnique();
            e.Property(g => g.NameSkeleton).HasMaxLength(Skeletons.MaxLength);
            e.HasIndex(g => g.NameSkeleton);
            e.HasMany(g => g.Roles).WithOne().HasForeignKey(r => r.GroupId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(g => g.Members).WithOne(m => m.Group).HasForeignKey(m => m.GroupId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<GroupRole>(e =>
        {
            e.ToTable("group_roles");
            e.HasKey(r => new { r.GroupId, r.RoleId });
            e.HasIndex(r => new { r.RoleId, r.GroupId });
            e.HasOne(r => r.Role).WithMany().HasForeignKey(r => r.RoleId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<GroupMember>(e =>
        {
            e.ToTable("group_members");
            e.HasKey(m => new { m.GroupId, m.UserId });
            e.HasIndex(m => new { m.UserId, m.GroupId });
            e.HasIndex(m => m.ValidUntil);
            e.Ignore(m => m.Validity);
        });

        b.Entity<CredentialToken>(e =>
        {
            e.ToTable("credential_tokens");
            e.HasKey(t => t.Id);
            e.Property(t => t.Purpose).HasMaxLength(32);
            e.Property(t => t.TokenHash).HasMaxLength(64);
            e.HasIndex(t => t.TokenHash).IsUnique();
            e.HasIndex(t => t.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<AuditEvent>(e =>
        {
            e.ToTable("audit_events");
            e.HasKey(a => a.Id);
            e.Property(a => a.ActorName).HasMaxLength(Usernames.MaxEmailLength);
            e.Property(a => a.Action).HasMaxLength(64);
            e.Property(a => a.Outcome).HasMaxLength(32);
            e.Property(a => a.TargetType).HasMaxLength(32);
            e.Property(a => a.TargetId).HasMaxLength(64);
            e.Property(a => a.TargetName).HasMaxLength(Usernames.MaxEmailLength);
            e.Property(a => a.ClientIp).HasMaxLength(64);
            e.Property(a => a.UserAgent).HasMaxLength(512);
            e.HasIndex(a => a.At);
            e.HasIndex(a => new { a.ActorName, a.Id });
            e.HasIndex(a => new { a.Action, a.Id });
            e.HasIndex(a => new { a.TargetId, a.Id });
        });

        b.Entity<Setting>(e =>
        {
            e.ToTable("settings");
            e.HasKey(s => s.Key);
            e.Property(s => s.Key).HasMaxLength(100);
        });

        b.Entity<DataProtectionKey>(e => e.ToTable("data_protection_keys"));

        b.Entity<OutboxMessage>(e =>
        {
            e.ToTable("outbox_messages");
            e.HasKey(m => m.Id);
            e.Property(m => m.To).HasMaxLength(Usernames.MaxEmailLength);
            e.Property(m => m.Subject).HasMaxLength(300);
            e.Property(m => m.Status).HasMaxLength(16);
            e.Property(m => m.LastError).HasMaxLength(1000);
            e.HasIndex(m => new { m.Status, m.NextAttemptAt });
        });

        b.Entity<PasswordHistoryEntry>(e =>
        {
            e.ToTable("password_history");
            e.HasKey(h => h.Id);
            e.Property(h => h.PasswordHash).HasMaxLength(512);
            e.HasIndex(h => new { h.UserId, h.Id });
            e.HasOne<User>().WithMany().HasForeignKey(h => h.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<ResourceAction>(e =>
        {
            e.ToTable("resource_actions");
            e.HasKey(r => new { r.Resource, r.Action });
            e.Property(r => r.Resource).HasMaxLength(200);
            e.Property(r => r.Action).HasMaxLength(64);
        });

        b.Entity<Customer>(e =>
        {
            e.ToTable("customers");
            e.HasKey(c => c.Id);
            e.Property(c => c.Reference).HasMaxLength(100);
            e.Property(c => c.NormalizedReference).HasMaxLength(100);
            e.Property(c => c.Email).HasMaxLength(Usernames.MaxEmailLength);
            e.Property(c => c.NormalizedEmail).HasMaxLength(Usernames.MaxEmailLength);
            e.Property(c => c.FirstName).HasMaxLength(100);
            e.Property(c => c.LastName).HasMaxLength(100);
            e.Property(c => c.SearchText).HasMaxLength(600);
            e.Property(c => c.Status).HasMaxLength(16);
            e.HasIndex(c => c.NormalizedReference).IsUnique();
            e.HasIndex(c => c.NormalizedEmail).IsUnique();
        });

        b.Entity<AgentScope>(e =>
        {
            e.ToTable("agent_scopes");
            e.HasKey(a => a.UserId);
            e.Property(a => a.Scope).HasMaxLength(16);
            e.HasOne<User>().WithOne().HasForeignKey<AgentScope>(a => a.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<AgentCustomer>(e =>
        {
            e.ToTable("agent_customers");
            e.HasKey(a => new { a.UserId, a.CustomerId });
            e.HasIndex(a => a.CustomerId);
            e.HasOne<User>().WithMany().HasForeignKey(a => a.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<Customer>().WithMany().HasForeignKey(a => a.CustomerId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<AgentSession>(e =>
        {
            e.ToTable("agent_sessions");
            e.HasKey(a => a.Id);
            e.Property(a => a.AgentUsername).HasMaxLength(Usernames.MaxLength);
            e.Property(a => a.CustomerReference).HasMaxLength(100);
            e.Property(a => a.Reason).HasMaxLength(500);
            e.Property(a => a.TokenId).HasMaxLength(100);
            e.HasIndex(a => a.StartedAt);
            e.HasIndex(a => a.AgentId);
        });

        b.Entity<WebSession>(e =>
        {
            e.ToTable("web_sessions");
            e.HasKey(s => s.Id);
            e.Property(s => s.StampDigest).HasMaxLength(64);
            e.Property(s => s.ClientAddress).HasMaxLength(64);
            e.Property(s => s.UserAgent).HasMaxLength(256);
            e.Property(s => s.Amr).HasMaxLength(200);
            e.Property(s => s.EndReason).HasMaxLength(32);
            // No foreign key: a deleted user's sessions are marked ended and purged later, like the rest of their history.
            e.HasIndex(s => new { s.UserId, s.EndedAt });
            e.HasIndex(s => s.EndedAt);
        });

        b.Entity<RevokedToken>(e =>
        {
            e.ToTable("revoked_tokens");
            e.HasKey(t => t.TokenId);
            e.Property(t => t.TokenId).HasMaxLength(100);
            e.HasIndex(t => t.ExpiresAt);
        });

        b.Entity<TotpAuthenticator>(e =>
        {
            e.ToTable("totp_authenticators");
            e.HasKey(t => t.UserId);
            e.Property(t => t.ProtectedSecret).HasMaxLength(1000);
            e.HasOne<User>().WithOne().HasForeignKey<TotpAuthenticator>(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<RecoveryCode>(e =>
        {
            e.ToTable("recovery_codes");
            e.HasKey(c => c.Id);
            e.Property(c => c.CodeHash).HasMaxLength(64);
            // A code is looked up by user and hash when presented.
            e.HasIndex(c => new { c.UserId, c.CodeHash });
            e.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<ExternalLogin>(e =>
        {
            e.ToTable("external_logins");
            e.HasKey(l => new { l.Provider, l.Subject });
            e.Property(l => l.Provider).HasMaxLength(64);
            e.Property(l => l.Subject).HasMaxLength(255);
            e.HasIndex(l => l.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(l => l.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<Passkey>(e =>
        {
            e.ToTable("passkeys");
            e.HasKey(p => p.Id);
            // WebAuthn allows credential ids up to 1023 bytes; authenticators use 16 to 64.
            e.Property(p => p.CredentialId).HasMaxLength(1023);
            e.HasIndex(p => p.CredentialId).IsUnique();
            e.Property(p => p.PublicKey).HasMaxLength(2048);
            e.Property(p => p.UserHandle).HasMaxLength(64);
            e.Property(p => p.Transports).HasMaxLength(100);
            e.Property(p => p.Name).HasMaxLength(Tessera.Server.Passkeys.PasskeyNames.MaxLength);
            e.HasIndex(p => new { p.UserId, p.CreatedAt });
            e.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<ApiCredential>(e =>
        {
            e.ToTable("api_credentials");
            e.HasKey(c => c.Id);
            e.Property(c => c.Name).HasMaxLength(Tessera.Core.Credentials.ApiCredentialRules.MaxNameLength);
            e.Property(c => c.NormalizedName).HasMaxLength(Tessera.Core.Credentials.ApiCredentialRules.MaxNameLength);
            e.Property(c => c.Type).HasConversion(new ValueConverter<Tessera.Core.Credentials.ApiCredentialType, string>(
                v => v == Tessera.Core.Credentials.ApiCredentialType.PublicKey ? "public_key" : "secret",
                v => v == "public_key" ? Tessera.Core.Credentials.ApiCredentialType.PublicKey : Tessera.Core.Credentials.ApiCredentialType.Secret)).HasMaxLength(16);
            e.Property(c => c.SecretHash).HasMaxLength(512);
            e.Property(c => c.PublicKeyJwk).HasMaxLength(4096);
            e.Property(c => c.Thumbprint).HasMaxLength(64);
            e.Property(c => c.KeyType).HasMaxLength(32);
            e.Property(c => c.CreatedBy).HasMaxLength(Usernames.MaxLength);
            e.HasIndex(c => new { c.UserId, c.NormalizedName }).IsUnique();
            // The expiry sweep reads only credentials that expire.
            e.HasIndex(c => c.ExpiresAt);
            e.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        b.Entity<ClientAssertionId>(e =>
        {
            e.ToTable("client_assertion_ids");
            e.HasKey(a => new { a.UserId, a.Jti });
            e.Property(a => a.Jti).HasMaxLength(Tessera.Server.ApiCredentials.ClientAssertions.MaxJtiLength);
            e.HasIndex(a => a.ExpiresAt);
        });

        b.ApplyConfiguration(new SodConstraintConfiguration());
        b.ApplyConfiguration(new SodConstraintRoleConfiguration());
        b.ApplyConfiguration(new ChangeRequestConfiguration());
        b.ApplyConfiguration(new AccessReviewConfiguration());
        b.ApplyConfiguration(new AccessReviewReviewerConfiguration());
        b.ApplyConfiguration(new AccessReviewItemConfiguration());
        b.ApplyConfiguration(new WebhookSubscriptionConfiguration());
        b.ApplyConfiguration(new WebhookDeliveryConfiguration());
    }

    internal sealed class UserTypeConverter() : ValueConverter<UserType, string>(
        v => v == UserType.Api ? "api" : "backoffice",
        v => v == "api" ? UserType.Api : UserType.BackOffice);
}

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}
