using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Groups;

public sealed record GroupResponse(Guid Id, string Name, string Description, IReadOnlyList<string> Roles, IReadOnlyList<GroupMemberResponse> Members, DateTime CreatedAt, DateTime UpdatedAt);

public sealed record GroupMemberResponse(Guid Id, string Username, string Type);

/// <summary>POST /groups and PUT /groups/{id}: name and description; roles and members optional on create.</summary>
public sealed record GroupRequest(string? Name, string? Description, List<string>? Roles, List<Guid>? UserIds);

public sealed record GroupRolesRequest(List<string>? Roles);

public sealed record GroupMembersRequest(List<Guid>? UserIds);

/// <summary>The use cases of groups; every change to roles or members passes the directory's invariants.</summary>
public sealed class GroupService(TesseraDbContext db, AuditLog audit, CallerDirectory callers, TimeProvider clock)
{
    public async Task<List<GroupResponse>> ListAsync(CancellationToken ct)
        => [.. (await Query().OrderBy(g => g.NormalizedName).ToListAsync(ct)).Select(ToResponse)];

    public async Task<Outcome<GroupResponse>> GetAsync(Guid id, CancellationToken ct)
        => await Query().SingleOrDefaultAsync(g => g.Id == id, ct) is { } group ? Outcome<GroupResponse>.Ok(ToResponse(group)) : NotFound(id);

    public async Task<Outcome<GroupResponse>> CreateAsync(GroupRequest request, CancellationToken ct)
    {
        if (Validate(request.Name, request.Description) is { } invalid)
        {
            return invalid;
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var name = request.Name!.Trim();
        if (await db.Groups.AnyAsync(g => g.NormalizedName == name.ToUpperInvariant(), ct))
        {
            return Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var group = new Group { Name = name, NormalizedName = name.ToUpperInvariant(), Description = request.Description?.Trim() ?? "", CreatedAt = now, UpdatedAt = now };
        db.Groups.Add(group);
        var affected = new List<Guid>();
        if (await SetRolesAsync(group, request.Roles ?? [], ct) is { } roleFailure)
        {
            return roleFailure;
        }

        if (await SetMembersAsync(group, request.UserIds ?? [], affected, ct) is { } memberFailure)
        {
            return memberFailure;
        }

        if (await SaveCheckedAsync(affected, ct) is { } failure)
        {
            return failure;
        }

        audit.Record(db, "group.created", "group", group.Id.ToString(), group.Name, new { group.Name, group.Description, roles = request.Roles ?? [], members = request.UserIds ?? [] });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return await GetAsync(group.Id, ct);
    }

    public async Task<Outcome<GroupResponse>> UpdateAsync(Guid id, GroupRequest request, CancellationToken ct)
    {
        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
        {
            return NotFound(id);
        }

        var name = request.Name?.Trim() ?? group.Name;
        if (Validate(name, request.Description) is { } invalid)
        {
            return invalid;
        }

        if (await db.Groups.AnyAsync(g => g.NormalizedName == name.ToUpperInvariant() && g.Id != id, ct))
        {
            return Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
        }

        var before = new { group.Name, group.Description };
        group.Name = name;
        group.NormalizedName = name.ToUpperInvariant();
        group.Description = request.Description?.Trim() ?? group.Description;
        group.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        var affected = new List<Guid>();
        if (request.Roles is not null && await SetRolesAsync(group, request.Roles, ct) is { } roleFailure)
        {
            return roleFailure;
        }

        if (request.UserIds is not null && await SetMembersAsync(group, request.UserIds, affected, ct) is { } memberFailure)
        {
            return memberFailure;
        }

        if (request.Roles is not null)
        {
            affected.AddRange(await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct));
        }

        if (await SaveCheckedAsync(affected, ct) is { } failure)
        {
            return failure;
        }

        audit.Record(db, "group.updated", "group", group.Id.ToString(), group.Name, new { before, after = new { group.Name, group.Description }, roles = request.Roles, members = request.UserIds });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return await GetAsync(group.Id, ct);
    }

    public async Task<Outcome<GroupResponse>> ChangeRolesAsync(Guid id, GroupRolesRequest request, CancellationToken ct)
    {
        if (request.Roles is null)
        {
            return Failure.Invalid("validation_failed", "roles is required.", new Dictionary<string, string[]> { ["roles"] = ["required"] });
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var group = await db.Groups.Include(g => g.Roles).ThenInclude(r => r.Role).SingleOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
        {
            return NotFound(id);
        }

        var before = group.Roles.Select(r => r.Role!.Name).Order(StringComparer.Ordinal).ToList();
        if (await SetRolesAsync(group, request.Roles, ct) is { } roleFailure)
        {
            return roleFailure;
        }

        var members = await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct);
        if (await SaveCheckedAsync(members, ct) is { } failure)
        {
            return failure;
        }

        var after = await db.GroupRoles.Where(r => r.GroupId == id).Select(r => r.Role!.Name).ToListAsync(ct);
        audit.Record(db, "group.roles_changed", "group", group.Id.ToString(), group.Name, new { from = before, to = after.Order(StringComparer.Ordinal) });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return await GetAsync(id, ct);
    }

    public async Task<Outcome<GroupResponse>> ChangeMembersAsync(Guid id, GroupMembersRequest request, CancellationToken ct)
    {
        if (request.UserIds is null)
        {
            return Failure.Invalid("validation_failed", "userIds is required.", new Dictionary<string, string[]> { ["userIds"] = ["required"] });
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
        {
            return NotFound(id);
        }

        var before = await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct);
        var affected = new List<Guid>();
        if (await SetMembersAsync(group, request.UserIds, affected, ct) is { } memberFailure)
        {
            return memberFailure;
        }

        if (await SaveCheckedAsync(affected, ct) is { } failure)
        {
            return failure;
        }

        audit.Record(db, "group.members_changed", "group", group.Id.ToString(), group.Name, new
        {
            added = request.UserIds.Except(before).ToList(),
            removed = before.Except(request.UserIds).ToList(),
        });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return await GetAsync(id, ct);
    }

    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
    {
        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
        {
            return NotFound(id).Failure;
        }

        var members = await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct);
        db.Groups.Remove(group);
        if (await SaveCheckedAsync(members, ct) is { } failure)
        {
            return failure;
        }

        audit.Record(db, "group.deleted", "group", group.Id.ToString(), group.Name);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        callers.Invalidate();
        return null;
    }

    private async Task<Failure?> SetRolesAsync(Group group, List<string> names, CancellationToken ct)
    {
        var roles = await DirectoryGuard.ResolveRolesAsync(db, names, ct);
        if (!roles.Succeeded)
        {
            return roles.Failure;
        }

        var current = await db.GroupRoles.Where(r => r.GroupId == group.Id).ToListAsync(ct);
        db.GroupRoles.RemoveRange(current.Where(r => roles.Value!.All(n => n.Id != r.RoleId)));
        db.GroupRoles.AddRange(roles.Value!.Where(n => current.All(r => r.RoleId != n.Id)).Select(n => new GroupRole { GroupId = group.Id, RoleId = n.Id }));
        return null;
    }

    private async Task<Failure?> SetMembersAsync(Group group, List<Guid> userIds, List<Guid> affected, CancellationToken ct)
    {
        var wanted = userIds.Distinct().ToList();
        var users = await db.Users.Where(u => wanted.Contains(u.Id)).Select(u => new { u.Id, u.Username }).ToListAsync(ct);
        if (wanted.FirstOrDefault(id => users.All(u => u.Id != id)) is var missing && missing != Guid.Empty)
        {
            return Failure.Conflict("unknown_user", $"No user has the id {missing}.");
        }

        if (users.Any(u => Usernames.IsReserved(u.Username)))
        {
            return DirectoryGuard.Reserved();
        }

        var current = await db.GroupMembers.Where(m => m.GroupId == group.Id).ToListAsync(ct);
        var removed = current.Where(m => !wanted.Contains(m.UserId)).ToList();
        db.GroupMembers.RemoveRange(removed);
        var added = wanted.Where(id => current.All(m => m.UserId != id)).ToList();
        db.GroupMembers.AddRange(added.Select(id => new GroupMember { GroupId = group.Id, UserId = id }));
        affected.AddRange(removed.Select(m => m.UserId));
        affected.AddRange(added);
        return null;
    }

    private async Task<Failure?> SaveCheckedAsync(List<Guid> affected, CancellationToken ct)
    {
        await db.SaveChangesAsync(ct);
        return await DirectoryGuard.CheckAsync(db, affected.Distinct().ToList(), ct);
    }

    private static Failure? Validate(string? name, string? description)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > 100)
        {
            errors["name"] = ["A group needs a name of 1 to 100 characters."];
        }

        if (description?.Length > 1000)
        {
            errors["description"] = ["The description can be at most 1000 characters."];
        }

        return errors.Count == 0 ? null : Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
    }

    private IQueryable<Group> Query() => db.Groups.AsNoTracking()
        .Include(g => g.Roles).ThenInclude(r => r.Role)
        .Include(g => g.Members).AsSplitQuery();

    private GroupResponse ToResponse(Group group)
    {
        var ids = group.Members.Select(m => m.UserId).ToList();
        var users = db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).Select(u => new { u.Id, u.Username, u.Type }).ToList();
        return new GroupResponse(group.Id, group.Name, group.Description,
            [.. group.Roles.Select(r => r.Role!.Name).Order(StringComparer.Ordinal)],
            [.. users.OrderBy(u => u.Username, StringComparer.Ordinal).Select(u => new GroupMemberResponse(u.Id, u.Username, u.Type.ToWire()))],
            group.CreatedAt, group.UpdatedAt);
    }

    private static Outcome<GroupResponse> NotFound(Guid id) => Failure.NotFound($"No group has the id {id}.");
}

public static class GroupsEndpoints
{
    public static IEndpointRouteBuilder MapGroups(this IEndpointRouteBuilder app)
    {
        var groups = app.MapGroup("/api/v1/groups").WithTags("Groups");
        groups.MapGet("/", async (GroupService service, CancellationToken ct) => Results.Ok(new { items = await service.ListAsync(ct) }))
            .RequirePrivilege(Privileges.ViewUsers);
        groups.MapPost("/", async (GroupRequest request, GroupService service, CancellationToken ct) =>
        {
            var outcome = await service.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/groups/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).RequirePrivilege(Privileges.ManageGroups);
        groups.MapGet("/{id:guid}", async (Guid id, GroupService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers);
        groups.MapPut("/{id:guid}", async (Guid id, GroupRequest request, GroupService service, CancellationToken ct) => (await service.UpdateAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups);
        groups.MapDelete("/{id:guid}", async (Guid id, GroupService service, CancellationToken ct) => (await service.DeleteAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageGroups);
        groups.MapPut("/{id:guid}/roles", async (Guid id, GroupRolesRequest request, GroupService service, CancellationToken ct) => (await service.ChangeRolesAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups);
        groups.MapPut("/{id:guid}/members", async (Guid id, GroupMembersRequest request, GroupService service, CancellationToken ct) => (await service.ChangeMembersAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups);
        return app;
    }
}
