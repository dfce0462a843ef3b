using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Core.Users;
using Tessera.Server.Changes;
using Tessera.Server.Governance;
using Tessera.Server.Http;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Groups;

public sealed record GroupResponse(Guid Id, string Name, string Description, IReadOnlyList<string> Roles, IReadOnlyList<GroupMemberResponse> Members, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>A member with the validity of the membership; state is active, pending or expired (<see cref="Tessera.Core.Governance.Validity.StateAt"/>).</summary>
public sealed record GroupMemberResponse(Guid Id, string Username, string Type, DateTime? ValidFrom = null, DateTime? ValidUntil = null, string State = "active");

/// <summary>POST /groups and PUT /groups/{id}: name and description; roles and members (bare ids or with a validity) optional on create.</summary>
public sealed record GroupRequest(string? Name, string? Description, List<string>? Roles, List<MemberAssignment>? UserIds);

public sealed record GroupRolesRequest([Required] List<string>? Roles);

public sealed record GroupMembersRequest([Required] List<MemberAssignment>? UserIds);

/// <summary>The use cases of groups; every change to roles or members passes the directory's invariants.</summary>
public sealed class GroupService(TesseraDbContext db, DirectoryPipeline pipeline, TimeProvider clock)
{
    /// <summary>Every group's id and name in name order, in one query: for pickers, which need no members or roles.</summary>
    public async Task<List<(Guid Id, string Name)>> NamesAsync(CancellationToken ct)
        => [.. (await db.Groups.AsNoTracking().OrderBy(g => g.NormalizedName).Select(g => new { g.Id, g.Name }).ToListAsync(ct)).Select(g => (g.Id, g.Name))];

    public async Task<List<GroupResponse>> ListAsync(CancellationToken ct)
        => await ToResponsesAsync(await Query().OrderBy(g => g.NormalizedName).ToListAsync(ct), ct);

    public async Task<Outcome<GroupResponse>> GetAsync(Guid id, CancellationToken ct)
        => await Query().SingleOrDefaultAsync(g => g.Id == id, ct) is { } group ? Outcome<GroupResponse>.Ok((await ToResponsesAsync([group], ct))[0]) : NotFound(id);

    private async Task<GroupResponse> GetValueAsync(Guid id, CancellationToken ct) => (await GetAsync(id, ct)).Value!;

    public async Task<Outcome<GroupResponse>> CreateAsync(GroupRequest request, CancellationToken ct)
    {
        if ((Validate(request.Name, request.Description) ?? ValidityProblems(request.UserIds, clock.GetUtcNow().UtcDateTime)) is { } invalid)
        {
            return invalid;
        }

        var group = new Group { Name = "", NormalizedName = "", Description = "" };
        return await pipeline.RunAsync(new CreateGroup(pipeline.ActorId(), request), async scope =>
        {
            var name = request.Name!.Trim();
            if (await db.Groups.AnyAsync(g => g.NormalizedName == name.ToUpperInvariant(), ct))
            {
                return Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
            }

            if (await LookAlikes.GroupAsync(db, name, null, ct) is { } lookAlike)
            {
                return lookAlike;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            group = new Group { Name = "", NormalizedName = "", Description = request.Description?.Trim() ?? "", CreatedAt = now, UpdatedAt = now };
            group.SetName(name);
            db.Groups.Add(group);
            scope.Target = ChangeTarget.Group(group.Id, group.Name);
            scope.UniqueViolation = _ => Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
            var roles = await SetRolesAsync(group, request.Roles ?? [], ct);
            if (!roles.Succeeded)
            {
                return roles.Failure;
            }

            var members = await SetMembersAsync(scope, group, request.UserIds ?? [], ct);
            if (!members.Succeeded)
            {
                return members.Failure;
            }

            if (await AuthorizeAsync(scope, group, roles.Value, members.Value!, ct) is { } refused)
            {
                return refused;
            }

            scope.Audit(new { group.Name, group.Description, roles = request.Roles ?? [], members = AuditedMembers(request.UserIds) ?? [] });
            return null;
        }, ct => GetValueAsync(group.Id, ct), ct);
    }

    public async Task<Outcome<GroupResponse>> UpdateAsync(Guid id, GroupRequest request, CancellationToken ct)
        => await pipeline.RunAsync(new UpdateGroup(pipeline.ActorId(), id, request), async scope =>
        {
            var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
            if (group is null)
            {
                return NotFound(id).Failure;
            }

            scope.Target = ChangeTarget.Group(group.Id, group.Name);
            var name = request.Name?.Trim() ?? group.Name;
            if ((Validate(name, request.Description) ?? await ValidityProblemsAsync(scope, id, request.UserIds, ct)) is { } invalid)
            {
                return invalid;
            }

            if (await db.Groups.AnyAsync(g => g.NormalizedName == name.ToUpperInvariant() && g.Id != id, ct))
            {
                return Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
            }

            if (!string.Equals(name, group.Name, StringComparison.Ordinal) && await LookAlikes.GroupAsync(db, name, id, ct) is { } lookAlike)
            {
                return lookAlike;
            }

            var before = new { group.Name, group.Description };
            group.SetName(name);
            group.Description = request.Description?.Trim() ?? group.Description;
            group.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            scope.UniqueViolation = _ => Failure.Conflict("group_name_taken", $"A group named '{name}' exists.");
            var roles = request.Roles is null ? Outcome<RoleChange?>.Ok(null) : await SetRolesAsync(group, request.Roles, ct);
            if (!roles.Succeeded)
            {
                return roles.Failure;
            }

            var members = request.UserIds is null ? Outcome<MemberChange>.Ok(MemberChange.None) : await SetMembersAsync(scope, group, request.UserIds, ct);
            if (!members.Succeeded)
            {
                return members.Failure;
            }

            if (await AuthorizeAsync(scope, group, roles.Value, members.Value!, ct) is { } refused)
            {
                return refused;
            }

            if (request.Roles is not null)
            {
                scope.Affected.AddRange(await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct));
            }

            scope.Audit(new
            {
                before, after = new { group.Name, group.Description }, roles = request.Roles, members = AuditedMembers(request.UserIds),
                changed = members.Value!.Changed.Count == 0 ? null : members.Value.Changed.Select(m => new { m.Id, from = Range(m.Before), to = Range(m.Validity) }),
            });
            return null;
        }, ct => GetValueAsync(id, ct), ct);

    public async Task<Outcome<GroupResponse>> ChangeRolesAsync(Guid id, GroupRolesRequest request, CancellationToken ct)
    {
        if (request.Roles is null)
        {
            return Failure.Invalid("validation_failed", "roles is required.", new Dictionary<string, string[]> { ["roles"] = ["required"] });
        }

        return await pipeline.RunAsync(new SetGroupRoles(pipeline.ActorId(), id, request.Roles), async scope =>
        {
            var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
            if (group is null)
            {
                return NotFound(id).Failure;
            }

            scope.Target = ChangeTarget.Group(group.Id, group.Name);
            var before = await db.GroupRoles.Where(r => r.GroupId == id).Select(r => r.Role!.Name).ToListAsync(ct);
            var roles = await SetRolesAsync(group, request.Roles, ct);
            if (!roles.Succeeded)
            {
                return roles.Failure;
            }

            if (await AuthorizeAsync(scope, group, roles.Value, MemberChange.None, ct) is { } refused)
            {
                return refused;
            }

            scope.Affected.AddRange(await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct));
            scope.Audit(new
            {
                from = before.Order(StringComparer.Ordinal),
                to = roles.Value!.After.Select(r => r.Name).Order(StringComparer.Ordinal),
            });
            return null;
        }, ct => GetValueAsync(id, ct), ct);
    }

    public async Task<Outcome<GroupResponse>> ChangeMembersAsync(Guid id, GroupMembersRequest request, CancellationToken ct)
    {
        if (request.UserIds is null)
        {
            return Failure.Invalid("validation_failed", "userIds is required.", new Dictionary<string, string[]> { ["userIds"] = ["required"] });
        }

        return await pipeline.RunAsync(new SetGroupMembers(pipeline.ActorId(), id, request.UserIds), async scope =>
        {
            var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
            if (group is null)
            {
                return NotFound(id).Failure;
            }

            scope.Target = ChangeTarget.Group(group.Id, group.Name);
            if (await ValidityProblemsAsync(scope, id, request.UserIds, ct) is { } invalid)
            {
                return invalid;
            }

            var members = await SetMembersAsync(scope, group, request.UserIds, ct);
            if (!members.Succeeded)
            {
                return members.Failure;
            }

            if (await AuthorizeAsync(scope, group, null, members.Value!, ct) is { } refused)
            {
                return refused;
            }

            var change = members.Value!;
            scope.Audit(new
            {
                added = change.Added.Select(m => AssignmentInput.AuditedMember(m.Id, m.Validity)),
                removed = change.Removed.Select(m => m.Id),
                changed = change.Changed.Select(m => new { m.Id, from = Range(m.Before), to = Range(m.Validity) }),
            });
            return null;
        }, ct => GetValueAsync(id, ct), ct);
    }

    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
        => await pipeline.RunAsync(new DeleteGroup(pipeline.ActorId(), id), async scope =>
        {
            var group = await db.Groups.SingleOrDefaultAsync(g => g.Id == id, ct);
            if (group is null)
            {
                return NotFound(id).Failure;
            }

            // Taking access away hands nothing out; the pipeline still refuses it if it took the actor's own MANAGE_USERS.
            scope.Target = ChangeTarget.Group(group.Id, group.Name);
            scope.Affected.AddRange(await db.GroupMembers.Where(m => m.GroupId == id).Select(m => m.UserId).ToListAsync(ct));
            db.Groups.Remove(group);
            scope.Audit();
            return null;
        }, ct);

    /// <summary>
    /// Judges the group change by the delegation rules, before anything is saved: the roles newly given hand
    /// out their privileges, a user who joins gains every role of the group, and each user added or removed
    /// is an account acted on.
    /// </summary>
    /// <param name="roles">The group's new roles, or null when the change leaves them as stored.</param>
    private static async Task<Failure?> AuthorizeAsync(ChangeScope scope, Group group, RoleChange? roles, MemberChange members, CancellationToken ct)
    {
        var handedOut = (await scope.PrivilegesOfRolesAsync(roles?.Added ?? [], ct)).ToList();
        scope.GrantedRoles.UnionWith(roles?.Added ?? []);
        if (members.Added.Count > 0 || members.Changed.Any(m => m.Widens))
        {
            // A new member gains every role the group will hold.
            var after = roles?.After.Select(r => r.Id).ToList()
                ?? await scope.Db.GroupRoles.Where(r => r.GroupId == group.Id).Select(r => r.RoleId).ToListAsync(ct);
            handedOut.AddRange(await scope.PrivilegesOfRolesAsync(after, ct));
            scope.GrantedRoles.UnionWith(after);
        }

        var accounts = new List<AccountTarget>();
        foreach (var member in members.Added.Concat(members.Removed).Concat(members.Changed))
        {
            accounts.Add(await scope.AccountAsync(member.Id, member.Username, ct));
        }

        scope.Affected.AddRange(accounts.Select(a => a.Id));
        return scope.Authorize(new ChangeImpact { HandedOut = handedOut, Accounts = accounts });
    }

    /// <summary>The roles a group holds after a change, and the ids of those newly given.</summary>
    private sealed record RoleChange(List<Role> After, List<Guid> Added);

    /// <summary>Replaces the group's roles in the unit of work.</summary>
    private async Task<Outcome<RoleChange?>> SetRolesAsync(Group group, List<string> names, CancellationToken ct)
    {
        var roles = await DirectoryGuard.ResolveRolesAsync(db, names, ct);
        if (!roles.Succeeded)
        {
            return roles.Failure!;
        }

        var current = await db.GroupRoles.Where(r => r.GroupId == group.Id).ToListAsync(ct);
        var added = roles.Value!.Where(n => current.All(r => r.RoleId != n.Id)).Select(n => n.Id).ToList();
        db.GroupRoles.RemoveRange(current.Where(r => roles.Value!.All(n => n.Id != r.RoleId)));
        db.GroupRoles.AddRange(added.Select(roleId => new GroupRole { GroupId = group.Id, RoleId = roleId }));
        return Outcome<RoleChange?>.Ok(new RoleChange(roles.Value!, added));
    }

    /// <summary>One member a change touches: who, the membership's range after the change, and before it (a change of range).</summary>
    private sealed record MemberEntry(Guid Id, string Username, Validity Validity, Validity Before = default, bool Widens = false);

    /// <summary>Who joins a group, who leaves it, and whose membership gets another validity.</summary>
    private sealed record MemberChange(List<MemberEntry> Added, List<MemberEntry> Removed, List<MemberEntry> Changed)
    {
        public static readonly MemberChange None = new([], [], []);
    }

    /// <summary>Replaces the group's members in the unit of work; a member kept with another range is changed in place.</summary>
    private async Task<Outcome<MemberChange>> SetMembersAsync(ChangeScope scope, Group group, List<MemberAssignment> members, CancellationToken ct)
    {
        var wanted = members.GroupBy(m => m.Id).Select(g => g.First()).ToList();
        var ids = wanted.Select(m => m.Id).ToList();
        var users = await db.Users.Where(u => ids.Contains(u.Id)).Select(u => new { u.Id, u.Username }).ToDictionaryAsync(u => u.Id, u => u.Username, ct);
        if (ids.FirstOrDefault(id => !users.ContainsKey(id)) is var missing && missing != Guid.Empty)
        {
            return Failure.Conflict("unknown_user", $"No user has the id {missing}.");
        }

        if (users.Values.Any(Usernames.IsReserved))
        {
            return DirectoryGuard.Reserved();
        }

        var current = await db.GroupMembers.Where(m => m.GroupId == group.Id)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { Member = m, u.Username }).ToListAsync(ct);
        var removed = current.Where(m => !ids.Contains(m.Member.UserId)).ToList();
        db.GroupMembers.RemoveRange(removed.Select(m => m.Member));
        var added = new List<MemberEntry>();
        var changed = new List<MemberEntry>();
        foreach (var member in wanted)
        {
            if (current.FirstOrDefault(m => m.Member.UserId == member.Id) is { } kept)
            {
                var before = kept.Member.Validity;
                if (before != member.Validity)
                {
                    // A new range is a new end: its lapse is recorded afresh.
                    (kept.Member.ValidFrom, kept.Member.ValidUntil, kept.Member.LapseRecordedAt) = (member.ValidFrom, member.ValidUntil, null);
                    changed.Add(new MemberEntry(member.Id, kept.Username, member.Validity, before, AssignmentValidity.Widens(before, member.Validity, scope.Now)));
                }
            }
            else
            {
                db.GroupMembers.Add(new GroupMember { GroupId = group.Id, UserId = member.Id, ValidFrom = member.ValidFrom, ValidUntil = member.ValidUntil });
                added.Add(new MemberEntry(member.Id, users[member.Id], member.Validity));
            }
        }

        return Outcome<MemberChange>.Ok(new MemberChange(added, [.. removed.Select(m => new MemberEntry(m.Member.UserId, m.Username, m.Member.Validity))], changed));
    }

    /// <summary>
    /// The refusals of the members' validities (400 validation_failed naming the member), or null: a malformed range,
    /// or one that has ended, unless <paramref name="stored"/> holds that very range (a member kept as it was).
    /// </summary>
    private Failure? ValidityProblems(List<MemberAssignment>? members, DateTime now, Dictionary<string, Validity>? stored = null)
    {
        var errors = members is null ? [] : AssignmentInput.Problems(members, "userIds", m => m.Id.ToString(), m => m.Validity, now,
            stored is null ? null : key => stored.TryGetValue(key, out var v) ? v : null);
        return errors.Count == 0 ? null : Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
    }

    private async Task<Failure?> ValidityProblemsAsync(ChangeScope scope, Guid groupId, List<MemberAssignment>? members, CancellationToken ct)
    {
        if (members is null)
        {
            return null;
        }

        var stored = (await db.GroupMembers.AsNoTracking().Where(m => m.GroupId == groupId).Select(m => new { m.UserId, m.ValidFrom, m.ValidUntil }).ToListAsync(ct))
            .ToDictionary(m => m.UserId.ToString(), m => new Validity(m.ValidFrom, m.ValidUntil));
        return ValidityProblems(members, scope.Now, stored);
    }

    private static List<object>? AuditedMembers(List<MemberAssignment>? members)
        => members?.Select(m => AssignmentInput.AuditedMember(m.Id, m.Validity)).ToList();

    private static object Range(Validity validity) => new { validFrom = validity.From, validUntil = validity.Until };

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

    /// <summary>Groups as the API shows them, with their members' names read in one query for all of them.</summary>
    private async Task<List<GroupResponse>> ToResponsesAsync(List<Group> groups, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var ids = groups.SelectMany(g => g.Members.Select(m => m.UserId)).Distinct().ToList();
        var users = ids.Count == 0 ? [] : await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id))
            .Select(u => new { u.Id, u.Username, u.Type }).ToDictionaryAsync(u => u.Id, ct);
        return [.. groups.Select(group => new GroupResponse(group.Id, group.Name, group.Description,
            [.. group.Roles.Select(r => r.Role!.Name).Order(StringComparer.Ordinal)],
            [.. group.Members.Where(m => users.ContainsKey(m.UserId)).Select(m => (User: users[m.UserId], m.Validity)).OrderBy(m => m.User.Username, StringComparer.Ordinal)
                .Select(m => new GroupMemberResponse(m.User.Id, m.User.Username, m.User.Type.ToWire(), m.Validity.From, m.Validity.Until, m.Validity.StateAt(now)))],
            group.CreatedAt, group.UpdatedAt))];
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
        }).RequirePrivilege(Privileges.ManageGroups).Delegated();
        groups.MapGet("/{id:guid}", async (Guid id, GroupService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ViewUsers).Produces<GroupResponse>();
        groups.MapPut("/{id:guid}", async (Guid id, GroupRequest request, GroupService service, CancellationToken ct) => (await service.UpdateAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups).Delegated();
        groups.MapDelete("/{id:guid}", async (Guid id, GroupService service, CancellationToken ct) => (await service.DeleteAsync(id, ct)).ToNoContent())
            .RequirePrivilege(Privileges.ManageGroups).Delegated();
        groups.MapPut("/{id:guid}/roles", async (Guid id, GroupRolesRequest request, GroupService service, CancellationToken ct) => (await service.ChangeRolesAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups).Delegated();
        groups.MapPut("/{id:guid}/members", async (Guid id, GroupMembersRequest request, GroupService service, CancellationToken ct) => (await service.ChangeMembersAsync(id, request, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGroups).Delegated().Produces<GroupResponse>()
            .WithSummary("Replaces the group's members; each a user id or {id, validFrom, validUntil}.");
        return app;
    }
}
