using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Core.Users;
using Tessera.Server.Access;
using Tessera.Server.Changes;
using Tessera.Server.Credentials;
using Tessera.Server.Governance;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Users;

/// <summary>The use cases of users: create, read, change, delete, change roles, explain permissions.</summary>
public sealed class UserService(
    TesseraDbContext db,
    DirectoryPipeline pipeline,
    PasswordService passwords,
    ICredentialMail mail,
    IEnumerable<IUserCreatedListener> listeners,
    Audit.AuditLog audit,
    TimeProvider clock)
{
    public async Task<Outcome<UserResponse>> GetAsync(Guid id, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id, ct);
        return user is null ? NotFound(id) : Outcome<UserResponse>.Ok((await ToResponsesAsync(db, [user], clock, ct))[0]);
    }

    public async Task<Outcome<UserResponse>> CreateAsync(CreateUserRequest request, CancellationToken ct)
    {
        // An email is judged and stored in NFKC: a fullwidth "ａ" is an "a".
        request = request with { Email = request.Email is null ? null : Usernames.Canonical(request.Email) };
        var errors = new Dictionary<string, string[]>();
        if (Usernames.Validate(request.Username) is { } usernameError)
        {
            errors["username"] = [usernameError];
        }

        if (Usernames.ValidateEmail(request.Email) is { } emailError)
        {
            errors["email"] = [emailError];
        }

        if (!UserWireNames.TryParseType(request.Type, out var type))
        {
            errors["type"] = ["Type must be 'backoffice' or 'api'."];
        }

        var mode = CredentialMode.Password;
        if (request.CredentialMode is not null && !UserWireNames.TryParseCredentialMode(request.CredentialMode, out mode))
        {
            errors["credentialMode"] = ["Credential mode must be 'password' or 'sso'."];
        }
        else if (type == UserType.Api && mode == CredentialMode.Sso)
        {
            errors["credentialMode"] = ["API users authenticate with a password (client secret), not SSO."];
        }

        if (request.Password is not null && type == UserType.BackOffice)
        {
            errors["password"] = ["BackOffice users set their own password through the invitation; leave password out."];
        }

        NameErrors(errors, request.FirstName, request.LastName);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        if (request.Roles is not null && ValidityProblems(request.Roles, "roles", clock.GetUtcNow().UtcDateTime) is { } invalidValidity)
        {
            return invalidValidity;
        }

        if (Usernames.IsReserved(request.Username!))
        {
            return DirectoryGuard.Reserved();
        }

        var change = CreateUser.Of(pipeline.ActorId(), request);
        User user = null!;
        return await pipeline.RunAsync(change, async scope =>
        {
            if (await TakenAsync(request.Username!, request.Email!, null, ct) is { } taken)
            {
                return taken;
            }

            var roles = await DirectoryGuard.ResolveRolesAsync(db, request.Roles?.Select(r => r.Name), ct);
            if (!roles.Succeeded)
            {
                return roles.Failure!;
            }

            var groups = await DirectoryGuard.ResolveGroupsAsync(db, request.Groups, ct);
            if (!groups.Succeeded)
            {
                return groups.Failure!;
            }

            // A new user gains every privilege of the roles and groups given: all of it is handed out.
            var handedOut = (await scope.PrivilegesOfRolesAsync(roles.Value!.Select(r => r.Id), ct))
                .Concat(await scope.PrivilegesOfGroupsAsync(groups.Value!.Select(g => g.Id), ct)).ToList();
            if (scope.Authorize(new ChangeImpact { HandedOut = handedOut }) is { } refused)
            {
                return refused;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            user = new User
            {
                Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
                Type = type, CredentialMode = mode, Status = UserStatus.Invited, CreatedAt = now, UpdatedAt = now,
            };
            user.SetUsername(request.Username!);
            user.SetEmail(request.Email!);
            user.SetNames(request.FirstName, request.LastName);
            var roleList = roles.Value!;
            if (type == UserType.Api && roleList.All(r => !r.IsBuiltIn || r.Name != BuiltInRoles.System))
            {
                var system = await DirectoryGuard.SystemRoleIdAsync(db, ct);
                roleList.Add(await db.Roles.SingleAsync(r => r.Id == system, ct));
            }

            foreach (var role in roleList)
            {
                var validity = request.Roles?.FirstOrDefault(r => string.Equals(r.Name.Trim(), role.Name, StringComparison.OrdinalIgnoreCase))?.Validity ?? Validity.Always;
                user.Roles.Add(new UserRole { RoleId = role.Id, ValidFrom = validity.From, ValidUntil = validity.Until });
            }

            scope.GrantedRoles.UnionWith(roleList.Select(r => r.Id));
            var groupIds = groups.Value!.Select(g => g.Id).ToList();
            scope.GrantedRoles.UnionWith(await db.GroupRoles.Where(r => groupIds.Contains(r.GroupId)).Select(r => r.RoleId).ToListAsync(ct));

            foreach (var group in groups.Value!)
            {
                user.Groups.Add(new GroupMember { GroupId = group.Id });
            }

            db.Users.Add(user);
            if (change.Password is not null && await passwords.SetAsync(db, user, change.Password, null, ct) is { } weak)
            {
                return weak;
            }

            if (user.Type == UserType.Api && user.PasswordHash is { } initial)
            {
                await ApiCredentials.ApiCredentialService.ReplaceInitialAsync(db, user, initial, change.ActorId, audit.CurrentActor().Name, clock.GetUtcNow().UtcDateTime, ct);
            }

            scope.Target = new ChangeTarget("user", user.Id, user.Username);
            scope.Affected.Add(user.Id);
            scope.UniqueViolation = UniqueViolation;
            scope.Audit(new
            {
                user.Username, user.Email, user.FirstName, user.LastName, type = type.ToWire(), credentialMode = mode.ToWire(),
                roles = roleList.OrderBy(r => r.Name, StringComparer.Ordinal).Select(r => AssignmentInput.Audited(r.Name, user.Roles.First(held => held.RoleId == r.Id).Validity)), groups = groups.Value!.Select(g => g.Name).Order(StringComparer.Ordinal),
                passwordSet = change.Password is not null,
            });
            foreach (var listener in listeners)
            {
                await listener.UserCreatedAsync(db, user, ct);
            }

            return null;
        }, async ct => (await ToResponsesAsync(db, [user], clock, ct))[0], ct);
    }

    public async Task<Outcome<UserResponse>> UpdateAsync(Guid id, UpdateUserRequest request, CancellationToken ct)
    {
        request = request with { Email = request.Email is null ? null : Usernames.Canonical(request.Email) };
        var errors = new Dictionary<string, string[]>();
        if (request.Username is not null && Usernames.Validate(request.Username) is { } usernameError)
        {
            errors["username"] = [usernameError];
        }

        if (request.Email is not null && Usernames.ValidateEmail(request.Email) is { } emailError)
        {
            errors["email"] = [emailError];
        }

        // The type is fixed at creation; a client that sends the user back as it read it may repeat it unchanged.
        var type = UserType.BackOffice;
        if (request.Type is not null && !UserWireNames.TryParseType(request.Type, out type))
        {
            errors["type"] = ["Type must be 'backoffice' or 'api'."];
        }

        var status = UserStatus.Active;
        if (request.Status is not null && (!UserWireNames.TryParseStatus(request.Status, out status) || status is UserStatus.Invited or UserStatus.Locked))
        {
            errors["status"] = ["Status can be set to 'active' (enable or unlock) or 'disabled'."];
        }

        var mode = CredentialMode.Password;
        if (request.CredentialMode is not null && !UserWireNames.TryParseCredentialMode(request.CredentialMode, out mode))
        {
            errors["credentialMode"] = ["Credential mode must be 'password' or 'sso'."];
        }

        NameErrors(errors, request.FirstName, request.LastName);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        User user = null!;
        return await pipeline.RunAsync(new UpdateUser(pipeline.ActorId(), id, request), async scope =>
        {
            var found = await TargetAsync(scope, id, ct);
            if (found.Failure is { } missing)
            {
                return missing;
            }

            user = found.Value!;
            if (request.Username is not null && Usernames.IsReserved(request.Username))
            {
                return DirectoryGuard.Reserved();
            }

            if (request.Type is not null && type != user.Type)
            {
                return Invalid(new Dictionary<string, string[]> { ["type"] = ["A user's type cannot change; create a new user instead."] });
            }

            if (request.CredentialMode is not null && user.Type == UserType.Api && mode == CredentialMode.Sso)
            {
                return Invalid(new Dictionary<string, string[]> { ["credentialMode"] = ["API users authenticate with a password (client secret), not SSO."] });
            }

            var disabling = request.Status is not null && status == UserStatus.Disabled;
            if (scope.Authorize(new ChangeImpact
            {
                Accounts = [await scope.AccountAsync(user.Id, user.Username, ct)],
                AccountAction = disabling ? AccountAction.Disable : AccountAction.Change,
            }) is { } refused)
            {
                return refused;
            }

            if (await TakenAsync(request.Username, request.Email, id, ct) is { } taken)
            {
                return taken;
            }

            var changes = new Dictionary<string, object?>();
            void Track(string field, object? from, object? to)
            {
                if (!Equals(from, to))
                {
                    changes[field] = new { from, to };
                }
            }

            if (request.Username is not null)
            {
                Track("username", user.Username, request.Username.Trim());
                user.SetUsername(request.Username);
            }

            var previousEmail = user.Email;
            if (request.Email is not null)
            {
                Track("email", user.Email, request.Email.Trim());
                user.SetEmail(request.Email);
            }

            if (request.FirstName is not null || request.LastName is not null)
            {
                Track("firstName", user.FirstName, request.FirstName?.Trim() ?? user.FirstName);
                Track("lastName", user.LastName, request.LastName?.Trim() ?? user.LastName);
                user.SetNames(request.FirstName ?? user.FirstName, request.LastName ?? user.LastName);
            }

            if (request.CredentialMode is not null && mode != user.CredentialMode)
            {
                Track("credentialMode", user.CredentialMode.ToWire(), mode.ToWire());
                user.CredentialMode = mode;
                user.SecurityStamp = User.NewStamp();
            }

            if (request.Status is not null)
            {
                var before = user.Status.ToWire();
                // An API user's credentials live apart from the user row; holding one counts as having had one.
                var hadCredential = user.HasHadCredential || (user.Type == UserType.Api && await db.ApiCredentials.AnyAsync(c => c.UserId == user.Id, ct));
                var next = status == UserStatus.Disabled ? user.Standing.Disable() : user.Standing.Enable(hadCredential, user.CredentialMode);
                if (user.Apply(next) && status == UserStatus.Disabled)
                {
                    // A disabled user's tokens and sessions end at once.
                    user.SecurityStamp = User.NewStamp();
                }

                Track("status", before, user.Status.ToWire());
            }

            if (changes.Count == 0)
            {
                scope.NothingChanged();
                return null;
            }

            user.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            scope.Affected.Add(user.Id);
            scope.UniqueViolation = UniqueViolation;
            scope.Audit(changes);
            if (changes.ContainsKey("email"))
            {
                // The old address hears of it, so that its owner notices an account taken over through its email.
                mail.EmailChanged(db, user, previousEmail);
            }

            return null;
        }, async ct => (await ToResponsesAsync(db, [user], clock, ct))[0], ct);
    }

    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
    {
        return await pipeline.RunAsync(new DeleteUser(pipeline.ActorId(), id), async scope =>
        {
            var found = await AccountAsync(scope, id, AccountAction.Delete, ct);
            if (found.Failure is { } refused)
            {
                return refused;
            }

            var user = found.Value!;

            db.Users.Remove(user);
            scope.Audit(new { user.Username, user.Email, type = user.Type.ToWire() });
            return null;
        }, ct);
    }

    public async Task<Outcome<UserResponse>> ChangeRolesAsync(Guid id, ChangeRolesRequest request, CancellationToken ct)
    {
        if (request.Roles is null)
        {
            return Invalid(new Dictionary<string, string[]> { ["roles"] = ["roles is required (an empty list removes every direct role)."] });
        }

        User user = null!;
        return await pipeline.RunAsync(new SetUserRoles(pipeline.ActorId(), id, request.Roles), async scope =>
        {
            var found = await TargetAsync(scope, id, ct, withRoles: true);
            if (found.Failure is { } missing)
            {
                return missing;
            }

            user = found.Value!;
            var stored = user.Roles.ToDictionary(r => r.Role!.Name, r => r.Validity, StringComparer.OrdinalIgnoreCase);
            if (ValidityProblems(request.Roles, "roles", scope.Now, name => stored.TryGetValue(name, out var v) ? v : null) is { } invalid)
            {
                return invalid;
            }

            var roles = await DirectoryGuard.ResolveRolesAsync(db, request.Roles.Select(r => r.Name), ct);
            if (!roles.Succeeded)
            {
                return roles.Failure!;
            }

            // Each wanted role with the validity asked for it (the first entry of a name; duplicates were checked alike).
            var wanted = roles.Value!.Select(role => (Role: role, Validity: request.Roles
                .First(r => string.Equals(r.Name.Trim(), role.Name, StringComparison.OrdinalIgnoreCase)).Validity)).ToList();
            var added = wanted.Where(w => user.Roles.All(r => r.RoleId != w.Role.Id)).ToList();
            // A range that lets an existing grant count where it did not (renewed, begun earlier, ended later) gives it again.
            var widened = wanted.Where(w => user.Roles.FirstOrDefault(r => r.RoleId == w.Role.Id) is { } held
                && AssignmentValidity.Widens(held.Validity, w.Validity, scope.Now)).ToList();
            var given = added.Concat(widened).Select(w => w.Role.Id).ToList();
            if (scope.Authorize(new ChangeImpact
            {
                Accounts = [await scope.AccountAsync(user.Id, user.Username, ct)],
                HandedOut = await scope.PrivilegesOfRolesAsync(given, ct),
            }) is { } refused)
            {
                return refused;
            }

            var before = user.Roles.OrderBy(r => r.Role!.Name, StringComparer.Ordinal).Select(r => AssignmentInput.Audited(r.Role!.Name, r.Validity)).ToList();
            var after = wanted.OrderBy(w => w.Role.Name, StringComparer.Ordinal).Select(w => AssignmentInput.Audited(w.Role.Name, w.Validity)).ToList();
            if (user.Roles.Count == wanted.Count && wanted.All(w => user.Roles.Any(r => r.RoleId == w.Role.Id && r.Validity == w.Validity)))
            {
                scope.NothingChanged();
                return null;
            }

            user.Roles.RemoveAll(r => wanted.All(w => w.Role.Id != r.RoleId));
            foreach (var (role, validity) in wanted)
            {
                if (user.Roles.FirstOrDefault(r => r.RoleId == role.Id) is { } held)
                {
                    if (held.Validity != validity)
                    {
                        // A new range is a new end: its lapse is recorded afresh.
                        (held.ValidFrom, held.ValidUntil, held.LapseRecordedAt) = (validity.From, validity.Until, null);
                    }
                }
                else
                {
                    user.Roles.Add(new UserRole { UserId = user.Id, RoleId = role.Id, ValidFrom = validity.From, ValidUntil = validity.Until });
                }
            }

            scope.GrantedRoles.UnionWith(given);

            user.UpdatedAt = scope.Now;
            scope.Affected.Add(user.Id);
            scope.Audit(new { from = before, to = after });
            return null;
        }, async ct => (await ToResponsesAsync(db, [user], clock, ct))[0], ct);
    }

    /// <summary>
    /// The refusals of the validities given to roles (400 validation_failed naming the member): a malformed range, one
    /// that has ended (unless the grant holds it already), and any range on System, which an API user must hold for good.
    /// </summary>
    private static Failure? ValidityProblems(List<RoleAssignment> roles, string member, DateTime now, Func<string, Validity?>? stored = null)
    {
        var errors = AssignmentInput.Problems(roles, member, r => r.Name ?? "", r => r.Validity, now, stored);
        for (var i = 0; i < roles.Count; i++)
        {
            if (roles[i].Validity.IsBounded && string.Equals(roles[i].Name?.Trim(), BuiltInRoles.System, StringComparison.OrdinalIgnoreCase))
            {
                errors[$"{member}[{i}]"] = ["The System role cannot be time-bound: an API user must hold it at every moment."];
            }
        }

        return errors.Count == 0 ? null : Invalid(errors);
    }

    public async Task<Outcome<PermissionsResponse>> PermissionsAsync(Guid id, CancellationToken ct)
    {
        if (!await db.Users.AnyAsync(u => u.Id == id, ct))
        {
            return Failure.NotFound($"No user has the id {id}.");
        }

        var access = await AccessLoader.LoadAsync(db, id, clock.GetUtcNow().UtcDateTime, ct);
        var privileges = access.Privileges.Order(StringComparer.Ordinal)
            .Select(p => new PrivilegeGrantResponse(p, [.. access.PrivilegeSources(p).Select(s => new SourceResponse(s.Role, s.Group))])).ToList();
        var rules = access.Rules.Select(r => new RuleGrantResponse(r.Rule.Resource, r.Rule.Action, r.Rule.Effect.ToWire(), new SourceResponse(r.Source.Role, r.Source.Group))).ToList();
        return Outcome<PermissionsResponse>.Ok(new PermissionsResponse(id, privileges, rules));
    }

    /// <summary>A unique index refused the save: someone took the username or email meanwhile.</summary>
    private static Failure UniqueViolation(string? constraint)
        => constraint?.Contains("Email", StringComparison.OrdinalIgnoreCase) == true
            ? Failure.Conflict("email_taken", "Another user has this email address.")
            : Failure.Conflict("username_taken", "Another user has this username.");

    /// <summary>The user a change acts on, tracked, once the delegation rules let the actor act on their account.</summary>
    public static async Task<Outcome<User>> AccountAsync(ChangeScope scope, Guid id, AccountAction action, CancellationToken ct)
    {
        var found = await TargetAsync(scope, id, ct);
        if (!found.Succeeded)
        {
            return found;
        }

        var user = found.Value!;
        return scope.Authorize(new ChangeImpact { Accounts = [await scope.AccountAsync(user.Id, user.Username, ct)], AccountAction = action }) is { } refused
            ? refused
            : found;
    }

    /// <summary>The user a change is aimed at, tracked, named in the scope's audit target; not found, or reserved, fails.</summary>
    public static async Task<Outcome<User>> TargetAsync(ChangeScope scope, Guid id, CancellationToken ct, bool withRoles = false)
    {
        IQueryable<User> users = withRoles ? scope.Db.Users.Include(u => u.Roles).ThenInclude(r => r.Role) : scope.Db.Users;
        var user = await users.SingleOrDefaultAsync(u => u.Id == id, ct);
        if (user is null)
        {
            return Failure.NotFound($"No user has the id {id}.");
        }

        scope.Target = new ChangeTarget("user", user.Id, user.Username);
        return Usernames.IsReserved(user.Username) ? DirectoryGuard.Reserved() : Outcome<User>.Ok(user);
    }

    /// <summary>The username or email belongs to another user, exactly or as a look-alike.</summary>
    private async Task<Failure?> TakenAsync(string? username, string? email, Guid? except, CancellationToken ct)
        => await ExactlyTakenAsync(username, email, except, ct) ?? await LookAlikes.UserAsync(db, username, email, except, ct);

    private async Task<Failure?> ExactlyTakenAsync(string? username, string? email, Guid? except, CancellationToken ct)
    {
        if (username is not null)
        {
            var normalized = Usernames.Normalize(username);
            if (await db.Users.AnyAsync(u => u.NormalizedUsername == normalized && u.Id != except, ct))
            {
                return Failure.Conflict("username_taken", $"The username '{username.Trim()}' is taken.");
            }
        }

        if (email is not null)
        {
            var normalized = Usernames.Normalize(email);
            if (await db.Users.AnyAsync(u => u.NormalizedEmail == normalized && u.Id != except, ct))
            {
                return Failure.Conflict("email_taken", "Another user has this email address.");
            }
        }

        return null;
    }

    private static void NameErrors(Dictionary<string, string[]> errors, string? first, string? last)
    {
        if (first?.Trim().Length > 100)
        {
            errors["firstName"] = ["First name can be at most 100 characters."];
        }
        else if (PersonNames.HasControlCharacters(first))
        {
            errors["firstName"] = ["First name cannot hold control characters such as line breaks."];
        }

        if (last?.Trim().Length > 100)
        {
            errors["lastName"] = ["Last name can be at most 100 characters."];
        }
        else if (PersonNames.HasControlCharacters(last))
        {
            errors["lastName"] = ["Last name cannot hold control characters such as line breaks."];
        }
    }

    private static Failure Invalid(Dictionary<string, string[]> errors)
        => Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);

    private static Outcome<UserResponse> NotFound(Guid id) => Failure.NotFound($"No user has the id {id}.");

    /// <summary>
    /// Maps users to responses with their role grants and group memberships in two queries, however many users. The
    /// name lists keep every stored assignment, whatever its state; the assignment lists show each one's validity.
    /// </summary>
    public static async Task<List<UserResponse>> ToResponsesAsync(TesseraDbContext db, IReadOnlyList<User> users, TimeProvider clock, CancellationToken ct)
    {
        var ids = users.Select(u => u.Id).ToList();
        var now = clock.GetUtcNow().UtcDateTime;
        var roles = (await db.UserRoles.Where(r => ids.Contains(r.UserId)).Select(r => new { r.UserId, r.Role!.Name, r.ValidFrom, r.ValidUntil }).ToListAsync(ct))
            .ToLookup(r => r.UserId, r => Assignment(r.Name, new Validity(r.ValidFrom, r.ValidUntil), now));
        var groups = (await db.GroupMembers.Where(m => ids.Contains(m.UserId)).Select(m => new { m.UserId, m.Group!.Name, m.ValidFrom, m.ValidUntil }).ToListAsync(ct))
            .ToLookup(m => m.UserId, m => Assignment(m.Name, new Validity(m.ValidFrom, m.ValidUntil), now));
        return users.Select(u =>
        {
            List<AssignmentResponse> held = [.. roles[u.Id].OrderBy(r => r.Name, StringComparer.Ordinal)];
            List<AssignmentResponse> memberships = [.. groups[u.Id].OrderBy(g => g.Name, StringComparer.Ordinal)];
            return new UserResponse(u.Id, u.Username, u.Email, u.FirstName, u.LastName, u.Type.ToWire(),
                u.Standing.EffectiveStatus(now).ToWire(), u.CredentialMode.ToWire(),
                u.CreatedAt, u.UpdatedAt, u.LastSignInAt, u.FailedSignInCount, u.LockedUntil,
                [.. held.Select(r => r.Name)], [.. memberships.Select(g => g.Name)], held, memberships);
        }).ToList();
    }

    public static AssignmentResponse Assignment(string name, Validity validity, DateTime now)
        => new(name, validity.From, validity.Until, validity.StateAt(now));
}

/// <summary>Something that happens in the same transaction when a user is created (the invitation email).</summary>
public interface IUserCreatedListener
{
    Task UserCreatedAsync(TesseraDbContext context, User user, CancellationToken ct);
}
