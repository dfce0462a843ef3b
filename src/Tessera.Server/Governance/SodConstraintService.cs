using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Server.Changes;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.Governance;

/// <summary>
/// The use cases of separation-of-duties constraints. Each change is a <see cref="DirectoryChange"/> through the
/// <see cref="DirectoryPipeline"/>: serialized with every other directory change, so a constraint and a grant
/// racing it cannot both pass, and storable for four-eyes approval (<c>change_sod_constraints</c>).
/// The constraint itself is enforced by <see cref="DirectoryGuard"/> on every change that touches a user's roles.
/// </summary>
public sealed class SodConstraintService(TesseraDbContext db, DirectoryPipeline pipeline, TimeProvider clock)
{
    public async Task<List<SodConstraintResponse>> ListAsync(CancellationToken ct)
        => (await Query().OrderBy(c => c.NormalizedName).ToListAsync(ct)).Select(ToResponse).ToList();

    public async Task<Outcome<SodConstraintResponse>> GetAsync(Guid id, CancellationToken ct)
        => await Query().SingleOrDefaultAsync(c => c.Id == id, ct) is { } found ? Outcome<SodConstraintResponse>.Ok(ToResponse(found)) : NotFound(id);

    public Task<Outcome<SodConstraintResponse>> CreateAsync(SodConstraintRequest request, CancellationToken ct)
        => CreateAsync(new CreateSodConstraint(pipeline.ActorId(), request), ct);

    private async Task<Outcome<SodConstraintResponse>> CreateAsync(CreateSodConstraint change, CancellationToken ct)
    {
        var request = change.Request;
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }

        var constraint = new SodConstraint { Name = "", NormalizedName = "" };
        return await pipeline.RunAsync(change, async scope =>
        {
            var now = clock.GetUtcNow().UtcDateTime;
            constraint = new SodConstraint { Name = "", NormalizedName = "", CreatedAt = now, UpdatedAt = now };
            return await ApplyAsync(scope, constraint, request, isNew: true, ct);
        }, _ => Task.FromResult(ToResponse(constraint)), ct);
    }

    public Task<Outcome<SodConstraintResponse>> UpdateAsync(Guid id, SodConstraintRequest request, CancellationToken ct)
        => UpdateAsync(new UpdateSodConstraint(pipeline.ActorId(), id, request), ct);

    private async Task<Outcome<SodConstraintResponse>> UpdateAsync(UpdateSodConstraint change, CancellationToken ct)
    {
        var request = change.Request;
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }

        SodConstraint constraint = null!;
        return await pipeline.RunAsync(change, async scope =>
        {
            var found = await Query(tracking: true).SingleOrDefaultAsync(c => c.Id == change.ConstraintId, ct);
            if (found is null)
            {
                return NotFound(change.ConstraintId).Failure;
            }

            constraint = found;
            constraint.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            return await ApplyAsync(scope, constraint, request, isNew: false, ct);
        }, _ => Task.FromResult(ToResponse(constraint)), ct);
    }

    public Task<Failure?> DeleteAsync(Guid id, CancellationToken ct) => DeleteAsync(new DeleteSodConstraint(pipeline.ActorId(), id), ct);

    private async Task<Failure?> DeleteAsync(DeleteSodConstraint change, CancellationToken ct)
        => await pipeline.RunAsync(change, async scope =>
        {
            var constraint = await Query(tracking: true).SingleOrDefaultAsync(c => c.Id == change.ConstraintId, ct);
            if (constraint is null)
            {
                return NotFound(change.ConstraintId).Failure;
            }

            // Lifting a constraint grants nothing to anyone: no user's invariant can break.
            scope.Target = Target(constraint);
            scope.Audit(Describe(constraint));
            db.SodConstraints.Remove(constraint);
            return null;
        }, ct);

    /// <summary>
    /// Sets the constraint's content from the request, refusing an unknown role, a taken name, and a constraint
    /// that users already break (they are listed: the roles are taken away from them first).
    /// </summary>
    private async Task<Failure?> ApplyAsync(ChangeScope scope, SodConstraint constraint, SodConstraintRequest request, bool isNew, CancellationToken ct)
    {
        var name = request.Name!.Trim();
        var maxHeld = request.MaxHeld ?? 1;
        scope.Target = isNew ? new ChangeTarget("sod_constraint", constraint.Id, name) : Target(constraint);
        var roles = await DirectoryGuard.ResolveRolesAsync(db, request.Roles, ct);
        if (!roles.Succeeded)
        {
            return roles.Failure;
        }

        var normalized = name.ToUpperInvariant();
        if (await db.SodConstraints.AnyAsync(c => c.NormalizedName == normalized && c.Id != constraint.Id, ct))
        {
            return NameTaken(name);
        }

        var roleIds = roles.Value!.Select(r => r.Id).ToList();
        var (listed, total) = await SodConstraintHoldings.ExistingViolationsAsync(db, roleIds, maxHeld, clock.GetUtcNow().UtcDateTime, ct);
        if (total > 0)
        {
            return new Failure(FailureKind.Conflict, "sod_existing_violations",
                $"{total} user(s) already hold more than {maxHeld} of these roles (the first {listed.Count} are listed); take the roles away from them first.")
            {
                Extensions = new Dictionary<string, object?> { ["violations"] = listed, ["total"] = total },
            };
        }

        var before = isNew ? null : Describe(constraint);
        constraint.Name = name;
        constraint.NormalizedName = normalized;
        constraint.Description = request.Description?.Trim() ?? "";
        constraint.MaxHeld = maxHeld;
        constraint.Roles.RemoveAll(r => !roleIds.Contains(r.RoleId));
        foreach (var role in roles.Value!.Where(r => constraint.Roles.All(x => x.RoleId != r.Id)))
        {
            constraint.Roles.Add(new SodConstraintRole { ConstraintId = constraint.Id, RoleId = role.Id, Role = role });
        }

        if (isNew)
        {
            db.SodConstraints.Add(constraint);
        }

        scope.UniqueViolation = _ => NameTaken(name);
        scope.Audit(isNew ? Describe(constraint) : new { before, after = Describe(constraint) });
        return null;
    }

    private static Failure? Validate(SodConstraintRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (SeparationOfDuties.Problem(request.Name, request.Roles, request.MaxHeld ?? 1) is { } problem)
        {
            errors[problem.StartsWith("name", StringComparison.Ordinal) ? "name" : problem.StartsWith("roles", StringComparison.Ordinal) ? "roles" : "maxHeld"] = [problem];
        }

        if (request.Description?.Length > 1000)
        {
            errors["description"] = ["The description can be at most 1000 characters."];
        }

        return errors.Count == 0 ? null : Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
    }

    private IQueryable<SodConstraint> Query(bool tracking = false)
    {
        var constraints = db.SodConstraints.Include(c => c.Roles).ThenInclude(r => r.Role);
        return tracking ? constraints : constraints.AsNoTracking();
    }

    private static ChangeTarget Target(SodConstraint constraint) => new("sod_constraint", constraint.Id, constraint.Name);

    private static IReadOnlyList<string> RoleNames(SodConstraint constraint)
        => [.. constraint.Roles.Select(r => r.Role?.Name ?? r.RoleId.ToString()).Order(StringComparer.OrdinalIgnoreCase)];

    private static object Describe(SodConstraint constraint) => new { constraint.Name, constraint.Description, roles = RoleNames(constraint), constraint.MaxHeld };

    private static SodConstraintResponse ToResponse(SodConstraint constraint)
        => new(constraint.Id, constraint.Name, constraint.Description, RoleNames(constraint), constraint.MaxHeld, constraint.CreatedAt, constraint.UpdatedAt);

    private static Failure NameTaken(string name) => Failure.Conflict("sod_constraint_name_taken", $"A separation-of-duties constraint named '{name}' exists.");

    private static Outcome<SodConstraintResponse> NotFound(Guid id) => Failure.NotFound($"No separation-of-duties constraint has the id {id}.");
}

/// <summary>
/// Applies a stored constraint change again (an approved change request) through its own use case, with the
/// record's content; the current request's user acts (see <see cref="IChangeReplay"/>).
/// </summary>
public sealed class SodConstraintReplay(SodConstraintService constraints) : IChangeReplay
{
    public bool Replays(DirectoryChange change) => change is CreateSodConstraint or UpdateSodConstraint or DeleteSodConstraint;

    public string PrivilegeFor(DirectoryChange change) => Tessera.Core.Access.Privileges.ManageGovernance;

    public async Task<Failure?> ReplayAsync(DirectoryChange change, CancellationToken ct) => change switch
    {
        CreateSodConstraint create => (await constraints.CreateAsync(create.Request, ct)).Failure,
        UpdateSodConstraint update => (await constraints.UpdateAsync(update.ConstraintId, update.Request, ct)).Failure,
        DeleteSodConstraint delete => await constraints.DeleteAsync(delete.ConstraintId, ct),
        _ => throw new ArgumentException($"{change.GetType().Name} is not a separation-of-duties change.", nameof(change)),
    };
}
