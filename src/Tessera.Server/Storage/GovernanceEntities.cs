using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Tessera.Core.Governance;
using Tessera.Core.Users;

namespace Tessera.Server.Storage;

/// <summary>A separation-of-duties constraint: nobody holds more than <see cref="MaxHeld"/> of its roles.</summary>
public sealed class SodConstraint
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }
    public required string NormalizedName { get; set; }
    public string Description { get; set; } = "";
    public int MaxHeld { get; set; } = 1;
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public List<SodConstraintRole> Roles { get; set; } = [];
}

public sealed class SodConstraintRole
{
    public Guid ConstraintId { get; set; }
    public Guid RoleId { get; set; }
    public Role? Role { get; set; }
}

/// <summary>
/// A change sent for four-eyes approval: the exact intended change (a serialized directory change), who made
/// it and why, and how it ended. It applies only when a different, entitled user approves it.
/// </summary>
public sealed class ChangeRequest
{
    public Guid Id { get; set; } = Guid.CreateVersion7();

    /// <summary>The approval-policy operation that required the approval (<see cref="ApprovalOperations"/>).</summary>
    public required string Operation { get; set; }

    /// <summary>The serialized change, applied as it stands on approval.</summary>
    public required string Change { get; set; }

    /// <summary>JSON: what the change would do, as the audit events it would write (the readable diff).</summary>
    public string Preview { get; set; } = "[]";
    public string TargetType { get; set; } = "";
    public string? TargetId { get; set; }
    public string? TargetName { get; set; }
    public Guid MakerId { get; set; }
    public required string MakerUsername { get; set; }
    public string Reason { get; set; } = "";
    public string Status { get; set; } = ChangeRequestStatus.Pending;
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public Guid? CheckerId { get; set; }
    public string? CheckerUsername { get; set; }
    public DateTime? DecidedAt { get; set; }
    public string? Comment { get; set; }
    public string? FailureCode { get; set; }
    public string? FailureDetail { get; set; }
}

/// <summary>An access-review campaign: reviewers recertify each assignment in scope by a due date.</summary>
public sealed class AccessReview
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Name { get; set; }

    /// <summary>JSON <c>{"roles":[...],"groups":[...]}</c>: the names the campaign covers, as created.</summary>
    public string Scope { get; set; } = "{}";
    public DateTime DueAt { get; set; }
    public string Status { get; set; } = AccessReviewStatus.Open;
    public Guid CreatedBy { get; set; }
    public required string CreatedByUsername { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ClosedAt { get; set; }
    public Guid? ClosedBy { get; set; }
    public List<AccessReviewReviewer> Reviewers { get; set; } = [];
    public List<AccessReviewItem> Items { get; set; } = [];
}

public sealed class AccessReviewReviewer
{
    public Guid ReviewId { get; set; }
    public Guid UserId { get; set; }
}

/// <summary>
/// One assignment under review: a user's direct role (<see cref="GroupId"/> null), or a group membership
/// (<see cref="GroupId"/> set; <see cref="RoleId"/> names the scoped role it brings, when the scope was a role).
/// </summary>
public sealed class AccessReviewItem
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid ReviewId { get; set; }
    public Guid UserId { get; set; }
    public required string Username { get; set; }
    public Guid? RoleId { get; set; }
    public string? RoleName { get; set; }
    public Guid? GroupId { get; set; }
    public string? GroupName { get; set; }
    public DateTime? ValidFrom { get; set; }
    public DateTime? ValidUntil { get; set; }

    /// <summary><c>keep</c>, <c>revoke</c>, or null while undecided.</summary>
    public string? Decision { get; set; }
    public Guid? DecidedBy { get; set; }
    public string? DecidedByUsername { get; set; }
    public DateTime? DecidedAt { get; set; }
    public string? Comment { get; set; }

    /// <summary>What closing the campaign did with a revocation: applied, sent_for_approval, already_removed, or failed:&lt;code&gt;.</summary>
    public string? Outcome { get; set; }
}

internal sealed class SodConstraintConfiguration : IEntityTypeConfiguration<SodConstraint>
{
    public void Configure(EntityTypeBuilder<SodConstraint> e)
    {
        e.ToTable("sod_constraints");
        e.HasKey(c => c.Id);
        e.Property(c => c.Name).HasMaxLength(SeparationOfDuties.MaxNameLength);
        e.Property(c => c.NormalizedName).HasMaxLength(SeparationOfDuties.MaxNameLength);
        e.Property(c => c.Description).HasMaxLength(1000);
        e.HasIndex(c => c.NormalizedName).IsUnique();
        e.HasMany(c => c.Roles).WithOne().HasForeignKey(r => r.ConstraintId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class SodConstraintRoleConfiguration : IEntityTypeConfiguration<SodConstraintRole>
{
    public void Configure(EntityTypeBuilder<SodConstraintRole> e)
    {
        e.ToTable("sod_constraint_roles");
        e.HasKey(r => new { r.ConstraintId, r.RoleId });
        e.HasIndex(r => r.RoleId);
        // A role in a constraint cannot be deleted from under it: the constraint is changed first.
        e.HasOne(r => r.Role).WithMany().HasForeignKey(r => r.RoleId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class ChangeRequestConfiguration : IEntityTypeConfiguration<ChangeRequest>
{
    public void Configure(EntityTypeBuilder<ChangeRequest> e)
    {
        e.ToTable("change_requests");
        e.HasKey(c => c.Id);
        e.Property(c => c.Operation).HasMaxLength(32);
        e.Property(c => c.TargetType).HasMaxLength(32);
        e.Property(c => c.TargetId).HasMaxLength(64);
        e.Property(c => c.TargetName).HasMaxLength(200);
        e.Property(c => c.MakerUsername).HasMaxLength(Usernames.MaxLength);
        e.Property(c => c.CheckerUsername).HasMaxLength(Usernames.MaxLength);
        e.Property(c => c.Reason).HasMaxLength(1000);
        e.Property(c => c.Comment).HasMaxLength(1000);
        e.Property(c => c.Status).HasMaxLength(16);
        e.Property(c => c.FailureCode).HasMaxLength(64);
        e.Property(c => c.FailureDetail).HasMaxLength(1000);
        e.HasIndex(c => new { c.Status, c.CreatedAt });
        e.HasIndex(c => new { c.MakerId, c.CreatedAt });
        e.HasIndex(c => c.ExpiresAt);
    }
}

internal sealed class AccessReviewConfiguration : IEntityTypeConfiguration<AccessReview>
{
    public void Configure(EntityTypeBuilder<AccessReview> e)
    {
        e.ToTable("access_reviews");
        e.HasKey(r => r.Id);
        e.Property(r => r.Name).HasMaxLength(200);
        e.Property(r => r.Scope).HasMaxLength(20_000);
        e.Property(r => r.Status).HasMaxLength(16);
        e.Property(r => r.CreatedByUsername).HasMaxLength(Usernames.MaxLength);
        e.HasIndex(r => new { r.Status, r.DueAt });
        e.HasMany(r => r.Reviewers).WithOne().HasForeignKey(r => r.ReviewId).OnDelete(DeleteBehavior.Cascade);
        e.HasMany(r => r.Items).WithOne().HasForeignKey(i => i.ReviewId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AccessReviewReviewerConfiguration : IEntityTypeConfiguration<AccessReviewReviewer>
{
    public void Configure(EntityTypeBuilder<AccessReviewReviewer> e)
    {
        e.ToTable("access_review_reviewers");
        e.HasKey(r => new { r.ReviewId, r.UserId });
        e.HasIndex(r => r.UserId);
        e.HasOne<User>().WithMany().HasForeignKey(r => r.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AccessReviewItemConfiguration : IEntityTypeConfiguration<AccessReviewItem>
{
    public void Configure(EntityTypeBuilder<AccessReviewItem> e)
    {
        e.ToTable("access_review_items");
        e.HasKey(i => i.Id);
        e.Property(i => i.Username).HasMaxLength(Usernames.MaxLength);
        e.Property(i => i.RoleName).HasMaxLength(100);
        e.Property(i => i.GroupName).HasMaxLength(100);
        e.Property(i => i.Decision).HasMaxLength(16);
        e.Property(i => i.DecidedByUsername).HasMaxLength(Usernames.MaxLength);
        e.Property(i => i.Comment).HasMaxLength(1000);
        e.Property(i => i.Outcome).HasMaxLength(100);
        // Items stay when the user or role goes: the campaign's report keeps what was reviewed.
        e.HasIndex(i => new { i.ReviewId, i.Username });
        e.HasIndex(i => new { i.ReviewId, i.Decision });
    }
}
