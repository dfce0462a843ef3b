using System.Collections.Concurrent;
using System.Diagnostics;
using Tessera.Core.Access;
using Xunit.Abstractions;

namespace Tessera.Core.Tests;

/// <summary>
/// Random directory changes by random users, judged by the delegation rules exactly as the server judges them.
/// The property: no accepted change gives anyone a privilege its actor did not hold before the change.
/// </summary>
public class DelegationPropertyTests(ITestOutputHelper output)
{
    private const int Sequences = 2_000;
    private const int OperationsPerSequence = 20;

    /// <summary>The judge of a change before it applies; <see cref="Delegation.Authorize"/> or a broken stand-in.</summary>
    public delegate DelegationRefusal? Authorizer(Guid actorId, IReadOnlySet<string> actorPrivileges, ChangeImpact impact);

    [Fact]
    public void No_accepted_change_gives_anyone_a_privilege_its_actor_did_not_hold()
    {
        var stats = new Stats();
        var watch = Stopwatch.StartNew();

        // Each sequence stands alone (its own seed, directory and counts), so they run side by side; the first failing
        // seed is reported.
        var violations = new ConcurrentDictionary<int, string>();
        Parallel.For(1, Sequences + 1, () => new Stats(), (seed, _, local) =>
        {
            if (Run(seed, Delegation.Authorize, local) is { } violation)
            {
                violations[seed] = violation;
            }

            return local;
        }, local =>
        {
            lock (stats)
            {
                stats.Add(local);
            }
        });

        watch.Stop();
        Assert.True(violations.IsEmpty, violations.OrderBy(v => v.Key).Select(v => v.Value).FirstOrDefault());
        output.WriteLine($"{Sequences} sequences of {OperationsPerSequence} operations in {watch.ElapsedMilliseconds} ms");
        output.WriteLine(stats.ToString());

        // Not vacuous: every kind of change was both accepted and refused, every refusal was met, and some accepted
        // changes did give someone a privilege (within the actor's).
        foreach (var kind in Kinds)
        {
            Assert.True(stats.Accepted.GetValueOrDefault(kind) >= 100, $"{kind} accepted too rarely.\n{stats}");
            Assert.True(stats.Refused.GetValueOrDefault(kind) >= 100, $"{kind} refused too rarely.\n{stats}");
        }

        foreach (var code in new[] { DelegationCodes.PrivilegeCeiling, DelegationCodes.TargetOutranksActor, DelegationCodes.SelfLockout, LostOwnAccess })
        {
            Assert.True(stats.Refusals.GetValueOrDefault(code) >= 100, $"{code} met too rarely.\n{stats}");
        }

        Assert.True(stats.Escalations >= 100, $"Too few accepted changes gave someone a new privilege.\n{stats}");
    }

    // The same generator with a judge that lets some privileges through: the invariant check must catch it, or the
    // test above proves nothing.
    [Theory]
    [InlineData("ignores what is handed out")]
    [InlineData("checks only the first privilege handed out")]
    public void A_broken_authorizer_is_caught(string broken)
    {
        Authorizer authorizer = broken switch
        {
            "ignores what is handed out" => (id, privileges, impact) => Delegation.Authorize(id, privileges, impact with { HandedOut = [] }),
            "checks only the first privilege handed out" => (id, privileges, impact) => Delegation.Authorize(id, privileges, impact with { HandedOut = [.. impact.HandedOut.Take(1)] }),
            _ => throw new ArgumentException(broken, nameof(broken)),
        };

        string? violation = null;
        for (var seed = 1; seed <= Sequences && violation is null; seed++)
        {
            violation = Run(seed, authorizer, new Stats());
        }

        Assert.NotNull(violation);
        output.WriteLine(violation);
        Assert.Contains("seed ", violation, StringComparison.Ordinal);
        Assert.Contains("Operations:", violation, StringComparison.Ordinal);
    }

    private const string LostOwnAccess = "self_lockout (after the change)";

    private static readonly string[] Kinds = ["SetUserRoles", "SetGroupRoles", "SetGroupMembers", "EditRole", "DisableUser", "DeleteUser"];

    private static readonly string[] Catalog = [.. Privileges.Catalog.Select(p => p.Name)];

    /// <summary>
    /// One sequence: a random directory, then random changes by random users, each accepted only when the judge and
    /// <see cref="Delegation.LosesOwnAccess"/> allow it. Null when the invariant held throughout, else why it did not.
    /// </summary>
    private static string? Run(int seed, Authorizer authorize, Stats stats)
    {
        var random = new Random(seed);
        var directory = TestDirectory.Generate(random);
        var before = directory.Privileges();
        // What happened so far, spelled out only when the invariant fails: (operation, null when accepted, else the refusal).
        var log = new List<(Operation Operation, string? Code, IReadOnlyList<string>? Privileges)>();

        for (var step = 1; step <= OperationsPerSequence; step++)
        {
            var operation = Operation.Next(random, directory);
            var actor = operation.Actor;
            var impact = operation.Impact(directory, before);

            var refusal = authorize(directory.Users[actor].Id, before[actor], impact);
            IReadOnlySet<string>[]? after = null;
            TestDirectory? changed = null;
            if (refusal is null)
            {
                changed = directory.Clone();
                operation.Apply(changed);
                after = changed.Privileges();
                refusal = Delegation.LosesOwnAccess(before[actor], after[actor]);
            }

            var kind = operation.Kind;
            if (refusal is not null)
            {
                stats.Refused[kind] = stats.Refused.GetValueOrDefault(kind) + 1;
                var code = after is null ? refusal.Code : LostOwnAccess;
                stats.Refusals[code] = stats.Refusals.GetValueOrDefault(code) + 1;
                log.Add((operation, code, refusal.Privileges));
                continue;
            }

            stats.Accepted[kind] = stats.Accepted.GetValueOrDefault(kind) + 1;
            log.Add((operation, null, null));

            // The invariant: whoever gained a privilege gained one the actor held before the change.
            var escalated = false;
            for (var user = 0; user < before.Length; user++)
            {
                var gained = after![user].Where(p => !before[user].Contains(p)).ToList();
                escalated |= gained.Count > 0;
                var beyond = gained.Where(p => !before[actor].Contains(p)).Order(StringComparer.Ordinal).ToList();
                if (beyond.Count > 0)
                {
                    return $"seed {seed}, operation {step}: {directory.Users[user].Name} gained {string.Join(", ", beyond)}, "
                        + $"which the actor {directory.Users[actor].Name} did not hold ([{string.Join(", ", before[actor].Order(StringComparer.Ordinal))}]).\n"
                        + $"Impact judged: handed out [{string.Join(", ", impact.HandedOut)}], accounts [{string.Join(", ", impact.Accounts.Select(a => a.Username))}], {impact.AccountAction}.\n"
                        + $"Directory at the start:\n{TestDirectory.Generate(new Random(seed))}"
                        + "Operations:\n" + string.Join("\n", log.Select((l, i) => l.Code is null
                            ? $"{i + 1}. {l.Operation}: accepted"
                            : $"{i + 1}. {l.Operation}: refused, {l.Code} [{string.Join(", ", l.Privileges!)}]"));
                }
            }

            if (escalated)
            {
                stats.Escalations++;
            }

            directory = changed!;
            before = after!;
        }

        return null;
    }

    private sealed class Stats
    {
        public Dictionary<string, int> Accepted { get; } = [];

        public Dictionary<string, int> Refused { get; } = [];

        public Dictionary<string, int> Refusals { get; } = [];

        public int Escalations { get; set; }

        public void Add(Stats other)
        {
            foreach (var (mine, theirs) in new[] { (Accepted, other.Accepted), (Refused, other.Refused), (Refusals, other.Refusals) })
            {
                foreach (var (key, count) in theirs)
                {
                    mine[key] = mine.GetValueOrDefault(key) + count;
                }
            }

            Escalations += other.Escalations;
        }

        public override string ToString()
            => string.Join("\n", Kinds.Select(k => $"{k}: {Accepted.GetValueOrDefault(k)} accepted, {Refused.GetValueOrDefault(k)} refused"))
                + "\nRefusals: " + string.Join(", ", Refusals.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} {r.Value}"))
                + $"\nAccepted changes that gave someone a new privilege: {Escalations}";
    }

    /// <summary>A small directory in memory: roles, groups with roles and members, users with direct roles.</summary>
    private sealed class TestDirectory
    {
        public const int UserCount = 8;

        public Dictionary<string, HashSet<string>> Roles { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, (HashSet<string> Roles, HashSet<int> Members)> Groups { get; } = new(StringComparer.Ordinal);

        public List<User> Users { get; } = [];

        public IEnumerable<string> CustomRoles => Roles.Keys.Where(r => !BuiltInRoles.IsBuiltIn(r));

        public IEnumerable<int> ActiveUsers => Enumerable.Range(0, Users.Count).Where(u => Users[u].Active);

        /// <summary>The Administrator and System roles, five custom roles, four groups, eight users; u0 is an administrator.</summary>
        public static TestDirectory Generate(Random random)
        {
            var directory = new TestDirectory();
            directory.Roles[BuiltInRoles.Administrator] = Ignoring(Catalog);
            directory.Roles[BuiltInRoles.System] = Ignoring([]);
            for (var r = 1; r <= 5; r++)
            {
                directory.Roles[$"R{r}"] = Ignoring(RandomPrivileges(random));
            }

            var custom = directory.CustomRoles.Append(BuiltInRoles.System).ToList();
            for (var u = 0; u < UserCount; u++)
            {
                var roles = u == 0 ? [BuiltInRoles.Administrator] : custom.Where(_ => random.Next(5) == 0).ToHashSet(StringComparer.Ordinal);
                directory.Users.Add(new User(new Guid(u + 1, 0, 0, new byte[8]), $"u{u}", roles, Active: true));
            }

            for (var g = 1; g <= 4; g++)
            {
                directory.Groups[$"G{g}"] = (
                    custom.Where(_ => random.Next(4) == 0).ToHashSet(StringComparer.Ordinal),
                    Enumerable.Range(0, UserCount).Where(_ => random.Next(10) < 3).ToHashSet());
            }

            return directory;
        }

        public TestDirectory Clone()
        {
            var copy = new TestDirectory { compiled = compiled };
            foreach (var (name, privileges) in Roles)
            {
                copy.Roles[name] = Ignoring(privileges);
            }

            foreach (var (name, (roles, members)) in Groups)
            {
                copy.Groups[name] = (roles.ToHashSet(StringComparer.Ordinal), members.ToHashSet());
            }

            copy.Users.AddRange(Users.Select(u => u with { DirectRoles = u.DirectRoles.ToHashSet(StringComparer.Ordinal) }));
            return copy;
        }

        /// <summary>Every user's effective privileges, compiled as the server compiles them: a grant per direct role and per group role.</summary>
        public IReadOnlySet<string>[] Privileges()
            => [.. Enumerable.Range(0, Users.Count).Select(u => Compile([.. Grants(u)]))];

        // Compiling is the slow part of a run, and most users hold the same grants after a change as before: a
        // compiled access is reused for grants that are the same, role by role, privilege by privilege and group by group.
        private Dictionary<string, IReadOnlySet<string>> compiled = new(StringComparer.Ordinal);

        private IReadOnlySet<string> Compile(List<RoleGrant> grants)
        {
            var key = string.Join("|", grants.Select(g => $"{g.RoleName}@{g.ViaGroup}={string.Join(",", g.Privileges)}"));
            if (!compiled.TryGetValue(key, out var privileges))
            {
                compiled[key] = privileges = EffectiveAccess.Compile(grants).Privileges;
            }

            return privileges;
        }

        private IEnumerable<RoleGrant> Grants(int user)
        {
            if (!Users[user].Active)
            {
                yield break;
            }

            foreach (var role in Users[user].DirectRoles)
            {
                yield return new RoleGrant(role, Roles[role], []);
            }

            foreach (var (name, (roles, members)) in Groups)
            {
                if (members.Contains(user))
                {
                    foreach (var role in roles)
                    {
                        yield return new RoleGrant(role, Roles[role], [], ViaGroup: name);
                    }
                }
            }
        }

        public override string ToString()
        {
            var text = new List<string>();
            foreach (var (name, privileges) in Roles)
            {
                text.Add($"  role {name}: {string.Join(", ", privileges)}");
            }

            foreach (var (name, (roles, members)) in Groups)
            {
                text.Add($"  group {name}: roles [{string.Join(", ", roles)}], members [{string.Join(", ", members.Select(m => Users[m].Name))}]");
            }

            foreach (var user in Users)
            {
                text.Add($"  user {user.Name}: roles [{string.Join(", ", user.DirectRoles)}]");
            }

            return string.Concat(text.Select(line => line + "\n"));
        }
    }

    private sealed record User(Guid Id, string Name, HashSet<string> DirectRoles, bool Active);

    private static HashSet<string> Ignoring(IEnumerable<string> privileges) => new(privileges, StringComparer.OrdinalIgnoreCase);

    // Each privilege of the catalog with probability 1/4, sometimes spelled in lower case (names compare ignoring case).
    private static List<string> RandomPrivileges(Random random)
        => [.. Catalog.Where(_ => random.Next(4) == 0).Select(p => Spell(random, p))];

    private static string Spell(Random random, string privilege) => random.Next(5) == 0 ? privilege.ToLowerInvariant() : privilege;

    // Half the time one item toggled (small steps get accepted more often), else a fresh random subset.
    private static HashSet<T> Vary<T>(Random random, IReadOnlySet<T> current, IReadOnlyList<T> all, int oneIn, IEqualityComparer<T>? comparer = null)
    {
        if (random.Next(2) == 0)
        {
            var toggled = current.ToHashSet(comparer);
            var item = all[random.Next(all.Count)];
            if (!toggled.Remove(item))
            {
                toggled.Add(item);
            }

            return toggled;
        }

        return all.Where(_ => random.Next(oneIn) == 0).ToHashSet(comparer);
    }

    private static T Pick<T>(Random random, IEnumerable<T> items)
    {
        var list = items.ToList();
        return list[random.Next(list.Count)];
    }

    private static string List(IEnumerable<string> items) => $"[{string.Join(", ", items)}]";

    /// <summary>
    /// A directory change: who makes it, what it does, and its impact as the server works it out from the directory
    /// before the change.
    /// </summary>
    private abstract record Operation(int Actor)
    {
        public string Kind => GetType().Name;

        public abstract ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before);

        public abstract void Apply(TestDirectory directory);

        public static Operation Next(Random random, TestDirectory directory)
        {
            var actor = Pick(random, directory.ActiveUsers);
            List<string> roles = [.. directory.Roles.Keys];
            switch (random.Next(Kinds.Length))
            {
                case 0:
                    var target = Pick(random, directory.ActiveUsers);
                    return new SetUserRoles(actor, target, [.. Vary(random, directory.Users[target].DirectRoles, roles, 5, StringComparer.Ordinal).Order(StringComparer.Ordinal)]);
                case 1:
                    var group = Pick(random, directory.Groups.Keys);
                    return new SetGroupRoles(actor, group, [.. Vary(random, directory.Groups[group].Roles, roles, 5, StringComparer.Ordinal).Order(StringComparer.Ordinal)]);
                case 2:
                    group = Pick(random, directory.Groups.Keys);
                    return new SetGroupMembers(actor, group, [.. Vary(random, directory.Groups[group].Members, [.. directory.ActiveUsers], 3).Order()]);
                case 3:
                    var role = Pick(random, directory.CustomRoles);
                    return new EditRole(actor, role, [.. Vary(random, directory.Roles[role], [.. Catalog.Select(p => Spell(random, p))], 4, StringComparer.OrdinalIgnoreCase)]);
                case 4:
                    return new DisableUser(actor, Pick(random, directory.ActiveUsers));
                default:
                    return new DeleteUser(actor, Pick(random, directory.ActiveUsers));
            }
        }

        protected static AccountTarget Account(TestDirectory directory, IReadOnlySet<string>[] before, int user)
            => new(directory.Users[user].Id, directory.Users[user].Name, before[user]);

        protected static IEnumerable<string> PrivilegesOf(TestDirectory directory, IEnumerable<string> roles)
            => roles.SelectMany(r => directory.Roles[r]).Distinct(StringComparer.OrdinalIgnoreCase);
    }

    // The target's direct roles replaced; hands out every role it did not hold directly before.
    private sealed record SetUserRoles(int Actor, int Target, string[] Roles) : Operation(Actor)
    {
        public override ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before) => new()
        {
            Accounts = [Account(directory, before, Target)],
            AccountAction = AccountAction.Change,
            HandedOut = [.. PrivilegesOf(directory, Roles.Where(r => !directory.Users[Target].DirectRoles.Contains(r)))],
        };

        public override void Apply(TestDirectory directory)
            => directory.Users[Target] = directory.Users[Target] with { DirectRoles = Roles.ToHashSet(StringComparer.Ordinal) };

        public override string ToString() => $"u{Actor} SetUserRoles(u{Target}, {List(Roles)})";
    }

    // A group's roles replaced; acts on no account, hands out every role new to the group.
    private sealed record SetGroupRoles(int Actor, string Group, string[] Roles) : Operation(Actor)
    {
        public override ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before) => new()
        {
            HandedOut = [.. PrivilegesOf(directory, Roles.Where(r => !directory.Groups[Group].Roles.Contains(r)))],
        };

        public override void Apply(TestDirectory directory)
        {
            var roles = directory.Groups[Group].Roles;
            roles.Clear();
            roles.UnionWith(Roles);
        }

        public override string ToString() => $"u{Actor} SetGroupRoles({Group}, {List(Roles)})";
    }

    // A group's members replaced; acts on everyone added or removed, and hands out all the group's roles to those added.
    private sealed record SetGroupMembers(int Actor, string Group, int[] Members) : Operation(Actor)
    {
        public override ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before)
        {
            var (roles, members) = directory.Groups[Group];
            var added = Members.Where(m => !members.Contains(m)).ToList();
            var removed = members.Where(m => !Members.Contains(m));
            return new()
            {
                Accounts = [.. added.Concat(removed).Order().Select(u => Account(directory, before, u))],
                AccountAction = AccountAction.Change,
                HandedOut = added.Count > 0 ? [.. PrivilegesOf(directory, roles)] : [],
            };
        }

        public override void Apply(TestDirectory directory)
        {
            var members = directory.Groups[Group].Members;
            members.Clear();
            members.UnionWith(Members);
        }

        public override string ToString() => $"u{Actor} SetGroupMembers({Group}, {List(Members.Select(m => $"u{m}"))})";
    }

    // A custom role's privileges replaced (Administrator and System are fixed); hands out the privileges new to it.
    private sealed record EditRole(int Actor, string Role, string[] Privileges) : Operation(Actor)
    {
        public override ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before) => new()
        {
            HandedOut = [.. Privileges.Where(p => !directory.Roles[Role].Contains(p))],
        };

        public override void Apply(TestDirectory directory) => directory.Roles[Role] = Ignoring(Privileges);

        public override string ToString() => $"u{Actor} EditRole({Role}, {List(Privileges)})";
    }

    // A disabled or deleted user holds nothing afterwards and never acts again.
    private abstract record EndUser(int Actor, int Target, AccountAction Action) : Operation(Actor)
    {
        public override ChangeImpact Impact(TestDirectory directory, IReadOnlySet<string>[] before) => new()
        {
            Accounts = [Account(directory, before, Target)],
            AccountAction = Action,
        };

        public override void Apply(TestDirectory directory)
        {
            directory.Users[Target] = directory.Users[Target] with { Active = false, DirectRoles = [] };
            foreach (var (_, members) in directory.Groups.Values)
            {
                members.Remove(Target);
            }
        }

        public sealed override string ToString() => $"u{Actor} {Kind}(u{Target})";
    }

    private sealed record DisableUser(int Actor, int Target) : EndUser(Actor, Target, AccountAction.Disable);

    private sealed record DeleteUser(int Actor, int Target) : EndUser(Actor, Target, AccountAction.Delete);
}
