using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Audit;
using Tessera.Server.Changes;
using Tessera.Server.Governance;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Roles;

/// <summary>The use cases of roles, the privilege catalog, the resource catalog, and role import and export.</summary>
public sealed class RoleService(TesseraDbContext db, DirectoryPipeline pipeline, AuditLog audit, TimeProvider clock)
{
    public async Task<List<RoleResponse>> ListAsync(CancellationToken ct)
        => (await Query().OrderBy(r => r.NormalizedName).ToListAsync(ct)).Select(ToResponse).ToList();

    public async Task<Outcome<RoleResponse>> GetAsync(Guid id, CancellationToken ct)
        => await Query().SingleOrDefaultAsync(r => r.Id == id, ct) is { } role ? Outcome<RoleResponse>.Ok(ToResponse(role)) : NotFound(id);

    public async Task<List<PrivilegeResponse>> PrivilegesAsync(CancellationToken ct)
        => await db.Privileges.OrderBy(p => p.Name).Select(p => new PrivilegeResponse(p.Name, p.Description)).ToListAsync(ct);

    public async Task<Outcome<RoleResponse>> CreateAsync(RoleRequest request, CancellationToken ct)
    {
        Role role = null!;
        return await pipeline.RunAsync(new CreateRole(pipeline.ActorId(), request), async scope =>
        {
            var parsed = await ParseAsync(request.Name, request.Description, request.Privileges, request.Rules, ct);
            if (!parsed.Succeeded)
            {
                return parsed.Failure!;
            }

            var (name, description, privileges, rules) = parsed.Value!;
            if (await db.Roles.AnyAsync(r => r.NormalizedName == name.ToUpperInvariant(), ct))
            {
                return Failure.Conflict("role_name_taken", $"A role named '{name}' exists.");
            }

            if (await LookAlikes.RoleAsync(db, name, null, ct) is { } lookAlike)
            {
                return lookAlike;
            }

            if (scope.Authorize(new ChangeImpact { HandedOut = privileges }) is { } refused)
            {
                return refused;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            role = new Role { Name = "", NormalizedName = "", Description = description, CreatedAt = now, UpdatedAt = now };
            role.SetName(name);
            role.RequiresApproval = request.RequiresApproval ?? false;
            Apply(role, privileges, rules);
            db.Roles.Add(role);
            scope.Target = ChangeTarget.Role(role.Id, role.Name);
            scope.UniqueViolation = _ => Failure.Conflict("role_name_taken", $"A role named '{name}' exists.");
            scope.Audit(Describe(role));
            return null;
        }, _ => Task.FromResult(ToResponse(role)), ct);
    }

    public async Task<Outcome<RoleResponse>> UpdateAsync(Guid id, RoleRequest request, CancellationToken ct)
    {
        Role role = null!;
        return await pipeline.RunAsync(new UpdateRole(pipeline.ActorId(), id, request), async scope =>
        {
            var found = await Query(tracking: true).SingleOrDefaultAsync(r => r.Id == id, ct);
            if (found is null)
            {
                return NotFound(id).Failure;
            }

            role = found;
            scope.Target = ChangeTarget.Role(role.Id, role.Name);
            var parsed = await ParseAsync(request.Name ?? role.Name, request.Description ?? role.Description,
                request.Privileges ?? [.. role.Privileges.Select(p => p.Privilege)],
                request.Rules ?? [.. role.Permissions.Select(p => new RuleDto(p.Resource, p.Action, p.Effect))], ct);
            if (!parsed.Succeeded)
            {
                return parsed.Failure!;
            }

            var (name, description, privileges, rules) = parsed.Value!;
            var before = Describe(role);
            if (role.IsBuiltIn && (!string.Equals(name, role.Name, StringComparison.Ordinal) || !SameDefinition(role, privileges, rules)))
            {
                return Failure.Conflict("builtin_role", $"{role.Name} is built in: it cannot be renamed, and its privileges and rules are fixed.");
            }

            if (!string.Equals(name, role.Name, StringComparison.OrdinalIgnoreCase) && await db.Roles.AnyAsync(r => r.NormalizedName == name.ToUpperInvariant() && r.Id != id, ct))
            {
                return Failure.Conflict("role_name_taken", $"A role named '{name}' exists.");
            }

            if (!string.Equals(name, role.Name, StringComparison.Ordinal) && await LookAlikes.RoleAsync(db, name, id, ct) is { } lookAlike)
            {
                return lookAlike;
            }

            if (scope.Authorize(new ChangeImpact { HandedOut = Added(role, privileges) }) is { } refused)
            {
                return refused;
            }

            role.SetName(name);
            role.Description = description;
            Unflag(scope, role, request.RequiresApproval);
            Apply(role, privileges, rules);
            role.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            scope.UniqueViolation = _ => Failure.Conflict("role_name_taken", $"A role named '{name}' exists.");
            scope.Audit(new { before, after = Describe(role) });
            return null;
        }, _ => Task.FromResult(ToResponse(role)), ct);
    }

    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
        => await pipeline.RunAsync(new DeleteRole(pipeline.ActorId(), id), async scope =>
        {
            var role = await db.Roles.SingleOrDefaultAsync(r => r.Id == id, ct);
            if (role is null)
            {
                return NotFound(id).Failure;
            }

            scope.Target = ChangeTarget.Role(role.Id, role.Name);
            if (role.IsBuiltIn)
            {
                return Failure.Conflict("builtin_role", $"{role.Name} is built in and cannot be deleted.");
            }

            if (await SodConstraintHoldings.RoleInUseAsync(db, [role.Id], ct) is { } constrained)
            {
                return constrained;
            }

            // Taking access away hands nothing out; the pipeline still refuses it if it took the actor's own MANAGE_USERS.
            db.Roles.Remove(role);
            scope.Audit();
            return null;
        }, ct);

    public async Task<RoleDocument> ExportAsync(string? names, CancellationToken ct)
    {
        var wanted = (names ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToUpperInvariant()).ToList();
        var roles = await Query().Where(r => wanted.Count == 0 || wanted.Contains(r.NormalizedName)).OrderBy(r => r.NormalizedName).ToListAsync(ct);
        return new RoleDocument([.. roles.Select(r => new RoleDefinition(r.Name, r.Description,
            [.. r.Privileges.Select(p => p.Privilege).Order(StringComparer.Ordinal)], [.. Rules(r)], r.RequiresApproval))]);
    }

    /// <summary>
    /// merge: creates and updates the roles in the document; replace: also deletes the custom roles it
    /// lacks. Built-in roles are never dropped or changed; the whole import fails if it would leave
    /// any user violating an invariant.
    /// </summary>
    public async Task<Outcome<ImportResult>> ImportAsync(string? mode, RoleDocument? document, CancellationToken ct)
    {
        mode = (mode ?? "merge").Trim().ToLowerInvariant();
        if (mode is not ("merge" or "replace"))
        {
            return Failure.Invalid("validation_failed", "mode must be 'merge' or 'replace'.", new Dictionary<string, string[]> { ["mode"] = ["mode must be 'merge' or 'replace'."] });
        }

        if (document?.Roles is null)
        {
            return Failure.Invalid("validation_failed", "The document needs a 'roles' array.", new Dictionary<string, string[]> { ["roles"] = ["required"] });
        }

        ImportResult result = null!;
        return await pipeline.RunAsync(new ImportRoles(pipeline.ActorId(), mode, document), async scope =>
        {
            var existing = await Query(tracking: true).ToListAsync(ct);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

            // Every role's skeleton, those of the document's new roles joining as they are read: a new role may not
            // read like an existing one, nor like another new one.
            var skeletons = existing.GroupBy(r => Skeletons.Of(r.Name)).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
            List<string> created = [], updated = [], deleted = [], unchanged = [];
            var handedOut = new List<string>();
            var now = clock.GetUtcNow().UtcDateTime;
            foreach (var definition in document.Roles)
            {
                if (definition is null)
                {
                    return Failure.Invalid("validation_failed", "Every entry of 'roles' must be a role definition, not null.");
                }

                var parsed = await ParseAsync(definition.Name, definition.Description, definition.Privileges, definition.Rules, ct);
                if (!parsed.Succeeded)
                {
                    return parsed.Failure! with { Detail = $"Role '{definition.Name}': {parsed.Failure!.Detail}" };
                }

                var (name, description, privileges, rules) = parsed.Value!;
                if (!seen.Add(name))
                {
                    return Failure.Invalid("validation_failed", $"The document names the role '{name}' twice.");
                }

                var role = existing.FirstOrDefault(r => string.Equals(r.NormalizedName, name, StringComparison.OrdinalIgnoreCase));
                if (role is null)
                {
                    if (!skeletons.TryAdd(Skeletons.Of(name), name))
                    {
                        return LookAlikes.Refusal("name", "role name", name, skeletons[Skeletons.Of(name)]);
                    }

                    role = new Role { Name = "", NormalizedName = "", Description = description, CreatedAt = now, UpdatedAt = now };
                    role.SetName(name);
                    role.RequiresApproval = definition.RequiresApproval ?? false;
                    handedOut.AddRange(privileges);
                    Apply(role, privileges, rules);
                    db.Roles.Add(role);
                    created.Add(name);
                }
                else if (role.IsBuiltIn || (SameDefinition(role, privileges, rules) && role.Description == description
                    && (definition.RequiresApproval is null || definition.RequiresApproval == role.RequiresApproval)))
                {
                    unchanged.Add(role.Name);
                }
                else
                {
                    handedOut.AddRange(Added(role, privileges));
                    role.Description = description;
                    Unflag(scope, role, definition.RequiresApproval);
                    Apply(role, privileges, rules);
                    role.UpdatedAt = now;
                    updated.Add(role.Name);
                }
            }

            if (scope.Authorize(new ChangeImpact { HandedOut = handedOut }) is { } refused)
            {
                return refused;
            }

            if (mode == "replace")
            {
                var dropped = existing.Where(r => !r.IsBuiltIn && !seen.Contains(r.Name)).ToList();
                if (await SodConstraintHoldings.RoleInUseAsync(db, [.. dropped.Select(r => r.Id)], ct) is { } constrained)
                {
                    return constrained;
                }

                foreach (var role in dropped)
                {
                    db.Roles.Remove(role);
                    deleted.Add(role.Name);
                }
            }

            result = new ImportResult(mode, created, updated, deleted, unchanged);
            scope.Audit(new { mode, created, updated, deleted });
            return null;
        }, _ => Task.FromResult(result), ct);
    }

    public async Task<ResourceCatalog> ResourcesAsync(CancellationToken ct)
    {
        var rows = await db.ResourceActions.AsNoTracking().OrderBy(r => r.Resource).ThenBy(r => r.Action).ToListAsync(ct);
        return new ResourceCatalog([.. rows.GroupBy(r => r.Resource).Select(g => new ResourceDto(g.Key, [.. g.Select(r => r.Action)]))], Version(rows));
    }

    /// <summary>The roles' rules that name a resource (not the wildcard resource), by resource, action and role name.</summary>
    public async Task<List<ResourceUse>> ResourceUsesAsync(CancellationToken ct)
        => await db.RolePermissions.Where(p => p.Resource != PermissionRule.Wildcard)
            .Join(db.Roles, p => p.RoleId, r => r.Id, (p, r) => new { p.Resource, p.Action, p.Effect, r.Id, r.Name, r.NormalizedName })
            .OrderBy(x => x.Resource).ThenBy(x => x.Action).ThenBy(x => x.NormalizedName)
            .Select(x => new ResourceUse(x.Id, x.Name, x.Resource, x.Action, x.Effect))
            .ToListAsync(ct);

    /// <summary>
    /// The catalog's version: a digest of its sorted rows, so that two readers of the same catalog agree on it and any
    /// change gives another, without a column to keep.
    /// </summary>
    private static string Version(IEnumerable<ResourceAction> rows)
    {
        var text = string.Join("\n", rows.Select(r => $"{r.Resource}:{r.Action}").Order(StringComparer.Ordinal));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..16];
    }

    /// <summary>Replaces the catalog; refuses to drop a resource or action that a rule still names.</summary>
    public async Task<Outcome<ResourceCatalog>> ReplaceResourcesAsync(ResourceCatalog catalog, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var rows = new List<ResourceAction>();
        foreach (var (resource, index) in (catalog.Resources ?? []).Select((r, i) => (r, i)))
        {
            if (resource is null)
            {
                errors[$"resources[{index}]"] = ["must not be null."];
                continue;
            }

            var name = resource.Name?.Trim().ToLowerInvariant();
            if (PermissionRule.ValidateResource(name) is { } error || name == PermissionRule.Wildcard)
            {
                errors[$"resources[{index}].name"] = [PermissionRule.ValidateResource(name) ?? "A resource cannot be '*'."];
                continue;
            }

            foreach (var action in (resource.Actions ?? []).Select(a => a?.Trim().ToLowerInvariant()).Distinct())
            {
                if (PermissionRule.ValidateAction(action) is { } actionError || action == PermissionRule.Wildcard)
                {
                    errors[$"resources[{index}].actions"] = [PermissionRule.ValidateAction(action) ?? "An action cannot be '*'."];
                }
                else if (!rows.Any(r => r.Resource == name && r.Action == action))
                {
                    rows.Add(new ResourceAction { Resource = name!, Action = action! });
                }
            }
        }

        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        await using var tx = await db.BeginDirectoryChangeAsync(ct);
        if (catalog.Version is { } read && Version(await db.ResourceActions.AsNoTracking().ToListAsync(ct)) != read)
        {
            return Failure.Conflict("resource_catalog_changed", "The resource catalog changed since it was read; read it again and repeat the change.");
        }

        var resources = rows.Select(r => r.Resource).ToHashSet(StringComparer.Ordinal);
        var used = await db.RolePermissions.Where(p => p.Resource != PermissionRule.Wildcard).Select(p => new { p.Resource, p.Action }).Distinct().ToListAsync(ct);
        var orphan = used.FirstOrDefault(u => !resources.Contains(u.Resource) || (u.Action != PermissionRule.Wildcard && !rows.Any(r => r.Resource == u.Resource && r.Action == u.Action)));
        if (orphan is not null)
        {
            var holders = await db.RolePermissions.Where(p => p.Resource == orphan.Resource && p.Action == orphan.Action)
                .Join(db.Roles, p => p.RoleId, r => r.Id, (p, r) => r.Name).OrderBy(n => n).ToListAsync(ct);
            return Failure.Conflict("resource_in_use", $"A role's rule still names {orphan.Resource}:{orphan.Action} ({string.Join(", ", holders)}); change the role first.")
                with { Extensions = new Dictionary<string, object?> { ["resource"] = orphan.Resource, ["action"] = orphan.Action, ["roles"] = holders } };
        }

        await db.ResourceActions.ExecuteDeleteAsync(ct);
        db.ResourceActions.AddRange(rows);
        audit.Record(db, "resources.replaced", "resource", null, null, new { count = rows.Count });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return Outcome<ResourceCatalog>.Ok(await ResourcesAsync(ct));
    }

    private IQueryable<Role> Query(bool tracking = false)
    {
        var roles = db.Roles.Include(r => r.Privileges).Include(r => r.Permissions).AsSplitQuery();
        return tracking ? roles : roles.AsNoTracking();
    }

    private async Task<Outcome<(string Name, string Description, List<string> Privileges, List<PermissionRule> Rules)>> ParseAsync(
        string? name, string? description, List<string>? privileges, List<RuleDto>? rules, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        name = name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            errors["name"] = ["A role needs a name of 1 to 100 characters."];
        }

        if (description?.Length > 1000)
        {
            errors["description"] = ["The description can be at most 1000 characters."];
        }

        var parsedRules = new List<PermissionRule>();
        foreach (var (rule, index) in (rules ?? []).Select((r, i) => (r, i)))
        {
            // The API refuses null elements before binding (StrictRequests); any other caller gets the same answer here.
            if (rule is null)
            {
                errors[$"rules[{index}]"] = ["must not be null."];
                continue;
            }

            if (PermissionRule.TryParse(rule.Resource, rule.Action, rule.Effect, out var parsed, out var ruleErrors))
            {
                if (parsedRules.Any(r => r.Resource == parsed.Resource && r.Action == parsed.Action))
                {
                    errors[$"rules[{index}]"] = [$"{parsed.Resource}:{parsed.Action} appears twice."];
                }

                parsedRules.Add(parsed);
            }
            else
            {
                foreach (var (field, messages) in ruleErrors)
                {
                    errors[$"rules[{index}].{field}"] = messages;
                }
            }
        }

        if (errors.Count > 0)
        {
            return Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
        }

        // Blank entries are skipped, as role and group names are (DirectoryGuard): a form's empty checkbox value, say.
        var wanted = (privileges ?? []).Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim().ToUpperInvariant()).Distinct().ToList();
        var unknown = wanted.FirstOrDefault(p => !Privileges.Exists(p));
        if (unknown is not null)
        {
            return Failure.Conflict("unknown_privilege", $"There is no privilege named '{unknown}'. GET /api/v1/privileges lists them.");
        }

        var named = parsedRules.Where(r => r.Resource != PermissionRule.Wildcard).ToList();
        if (named.Count > 0)
        {
            var resources = named.Select(r => r.Resource).Distinct().ToList();
            var registered = await db.ResourceActions.Where(r => resources.Contains(r.Resource)).ToListAsync(ct);
            var missing = named.FirstOrDefault(r => registered.All(x => x.Resource != r.Resource)
                || (r.Action != PermissionRule.Wildcard && registered.All(x => x.Resource != r.Resource || x.Action != r.Action)));
            if (missing is not null)
            {
                return Failure.Conflict("unknown_resource", $"{missing.Resource}:{missing.Action} is not in the resource catalog (PUT /api/v1/resources registers it).");
            }
        }

        return Outcome<(string, string, List<string>, List<PermissionRule>)>.Ok((name!, description?.Trim() ?? "", wanted, parsedRules));
    }

    private static void Apply(Role role, List<string> privileges, List<PermissionRule> rules)
    {
        role.Privileges.RemoveAll(p => !privileges.Contains(p.Privilege));
        foreach (var privilege in privileges.Where(p => role.Privileges.All(x => x.Privilege != p)))
        {
            role.Privileges.Add(new RolePrivilege { RoleId = role.Id, Privilege = privilege });
        }

        role.Permissions.RemoveAll(p => !rules.Any(r => r.Resource == p.Resource && r.Action == p.Action && r.Effect.ToWire() == p.Effect));
        foreach (var rule in rules.Where(r => !role.Permissions.Any(p => p.Resource == r.Resource && p.Action == r.Action && p.Effect == r.Effect.ToWire())))
        {
            role.Permissions.Add(new RolePermission { RoleId = role.Id, Resource = rule.Resource, Action = rule.Action, Effect = rule.Effect.ToWire() });
        }
    }

    /// <summary>
    /// Sets the role's requiresApproval flag (null leaves it). Taking the flag away opens the role to grants without a
    /// second person, so that change falls under <c>grant_role</c> as well as under <c>change_role_definition</c>.
    /// </summary>
    private static void Unflag(ChangeScope scope, Role role, bool? requiresApproval)
    {
        if (requiresApproval is not { } flag)
        {
            return;
        }

        if (role.RequiresApproval && !flag)
        {
            scope.FallsUnder.Add(Tessera.Core.Governance.ApprovalOperations.GrantRole);
        }

        role.RequiresApproval = flag;
    }

    /// <summary>The privileges a new definition adds to a role: what editing it hands out to its holders.</summary>
    private static List<string> Added(Role role, List<string> privileges)
        => [.. privileges.Where(p => role.Privileges.All(x => !string.Equals(x.Privilege, p, StringComparison.OrdinalIgnoreCase)))];

    private static bool SameDefinition(Role role, List<string> privileges, List<PermissionRule> rules)
        => role.Privileges.Select(p => p.Privilege).Order(StringComparer.Ordinal).SequenceEqual(privileges.Order(StringComparer.Ordinal))
        && role.Permissions.Count == rules.Count
        && rules.All(r => role.Permissions.Any(p => p.Resource == r.Resource && p.Action == r.Action && p.Effect == r.Effect.ToWire()));

    private static IEnumerable<RuleDto> Rules(Role role)
        => role.Permissions.OrderBy(p => p.Resource, StringComparer.Ordinal).ThenBy(p => p.Action, StringComparer.Ordinal).Select(p => new RuleDto(p.Resource, p.Action, p.Effect));

    private static object Describe(Role role) => new
    {
        role.Name,
        role.Description,
        role.RequiresApproval,
        privileges = role.Privileges.Select(p => p.Privilege).Order(StringComparer.Ordinal).ToList(),
        rules = Rules(role).Select(r => $"{r.Resource}:{r.Action}={r.Effect}").ToList(),
    };

    private static RoleResponse ToResponse(Role role) => new(role.Id, role.Name, role.Description, role.IsBuiltIn,
        [.. role.Privileges.Select(p => p.Privilege).Order(StringComparer.Ordinal)], [.. Rules(role)], role.CreatedAt, role.UpdatedAt, role.RequiresApproval);

    private static Outcome<RoleResponse> NotFound(Guid id) => Failure.NotFound($"No role has the id {id}.");
}
