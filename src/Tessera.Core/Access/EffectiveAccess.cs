using System.Collections.Frozen;
using System.Collections.ObjectModel;

namespace Tessera.Core.Access;

/// <summary>
/// Everything a user may do, compiled once from the roles they hold (directly and through groups):
/// their privileges, and an answer to "may they do this action on this resource?".
/// </summary>
/// <remarks>
/// Immutable, so one instance can answer from many threads. Decisions are worked out in
/// <see cref="Compile"/>: <see cref="Decide"/> does at most two dictionary lookups and allocates nothing.
/// </remarks>
public sealed class EffectiveAccess
{
    // Fixed reasons, so that a decision never allocates; the caller knows what it asked.
    private static readonly AccessDecision NoRuleAllows = new(false, "no rule allows this action on this resource", null, null);
    private static readonly AccessDecision NotAResource = new(false, "denied: not a single valid resource name", null, null);
    private static readonly AccessDecision NotAnAction = new(false, "denied: not a single valid action name", null, null);

    private readonly FrozenDictionary<string, AccessSource[]> privilegeSources;
    private readonly FrozenDictionary<string, ResourceDecisions> byResource;

    // Used when a resource has no rule of its own: only the rules for every resource (*) apply.
    private readonly ResourceDecisions anyResource;

    private EffectiveAccess(
        FrozenDictionary<string, AccessSource[]> privilegeSources,
        ReadOnlyCollection<GrantedRule> rules,
        FrozenDictionary<string, ResourceDecisions> byResource,
        ResourceDecisions anyResource)
    {
        this.privilegeSources = privilegeSources;
        Privileges = privilegeSources.Keys.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        Rules = rules;
        this.byResource = byResource;
        this.anyResource = anyResource;
    }

    /// <summary>A user with no roles: no privileges, every action denied.</summary>
    public static EffectiveAccess None { get; } = Compile([]);

    /// <summary>Every privilege the user holds through any role (compared ignoring case).</summary>
    public IReadOnlySet<string> Privileges { get; }

    /// <summary>Every permission rule the user holds, each with its source, in the order the roles were given.</summary>
    public IReadOnlyList<GrantedRule> Rules { get; }

    public bool HasPrivilege(string privilege) => Privileges.Contains(privilege);

    /// <summary>The roles (and groups) that give the user a privilege; empty when they do not hold it.</summary>
    public IReadOnlyList<AccessSource> PrivilegeSources(string privilege)
        => privilegeSources.TryGetValue(privilege, out var sources) ? sources.AsReadOnly() : [];

    public bool IsAllowed(string resource, string action) => Decide(resource, action).Allowed;

    /// <summary>
    /// Whether the user may do <paramref name="action"/> on <paramref name="resource"/>, and why.
    /// Denied unless a rule allows it; any matching deny beats every allow, whichever role or group it came from.
    /// A rule matches when its resource is the resource or <c>*</c> and its action is the action or <c>*</c>;
    /// resources do not inherit (a rule on <c>catalog</c> says nothing about <c>catalog.products</c>).
    /// </summary>
    /// <remarks>The question must name one concrete resource and action; a wildcard or malformed name is denied.</remarks>
    public AccessDecision Decide(string resource, string action)
    {
        // Checking the shape first keeps the lookups exact: validated names are ASCII, where
        // ordinal-ignore-case comparison is plain case-insensitivity.
        if (!PermissionRule.IsConcreteResource(resource))
        {
            return NotAResource;
        }

        if (!PermissionRule.IsConcreteAction(action))
        {
            return NotAnAction;
        }

        var decisions = byResource.TryGetValue(resource, out var own) ? own : anyResource;
        return decisions.ByAction.TryGetValue(action, out var decision) ? decision : decisions.OtherActions;
    }

    /// <summary>Compiles the access of a user from the roles they hold; give each role once per way they hold it.</summary>
    public static EffectiveAccess Compile(IEnumerable<RoleGrant> grants)
    {
        ArgumentNullException.ThrowIfNull(grants);

        var privileges = new Dictionary<string, List<AccessSource>>(StringComparer.OrdinalIgnoreCase);
        var rules = new List<GrantedRule>();
        var seenRules = new HashSet<GrantedRule>();
        foreach (var grant in grants)
        {
            var source = new AccessSource(grant.RoleName, grant.ViaGroup);
            foreach (var privilege in grant.Privileges)
            {
                if (!privileges.TryGetValue(privilege, out var sources))
                {
                    privileges[privilege] = sources = [];
                }

                if (!sources.Contains(source))
                {
                    sources.Add(source);
                }
            }

            foreach (var rule in grant.Rules)
            {
                var granted = new GrantedRule(rule, source);
                if (seenRules.Add(granted))
                {
                    rules.Add(granted);
                }
            }
        }

        var (byResource, anyResource) = CompileDecisions(rules);
        return new EffectiveAccess(
            privileges.ToFrozenDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.OrdinalIgnoreCase),
            rules.AsReadOnly(),
            byResource,
            anyResource);
    }

    // Works out, for every (resource, action) pair that some rule names, which rule decides it, so that
    // Decide only looks the answer up. Four kinds of rule can match a question about (r, a):
    // (r, a), (r, *), (*, a) and (*, *). The first deny among them decides; failing that, the first allow.
    // They are tried most specific first, so the reported rule is the one an administrator would look at.
    private static (FrozenDictionary<string, ResourceDecisions>, ResourceDecisions) CompileDecisions(List<GrantedRule> rules)
    {
        var slots = new Dictionary<(string Resource, string Action), Slot>();
        foreach (var granted in rules)
        {
            var key = (granted.Rule.Resource, granted.Rule.Action);
            var slot = slots.GetValueOrDefault(key);
            slots[key] = granted.Rule.Effect == PermissionEffect.Deny
                ? slot with { Deny = slot.Deny ?? granted }
                : slot with { Allow = slot.Allow ?? granted };
        }

        // One decision object per deciding rule, shared by every pair it decides.
        var decisions = new Dictionary<GrantedRule, AccessDecision>(ReferenceEqualityComparer.Instance);
        AccessDecision DecisionAmong(params ReadOnlySpan<(string, string)> candidates)
        {
            GrantedRule? allow = null;
            foreach (var key in candidates)
            {
                if (slots.TryGetValue(key, out var slot))
                {
                    if (slot.Deny is not null)
                    {
                        return DecisionFor(slot.Deny);
                    }

                    allow ??= slot.Allow;
                }
            }

            return allow is null ? NoRuleAllows : DecisionFor(allow);
        }

        AccessDecision DecisionFor(GrantedRule granted)
        {
            if (!decisions.TryGetValue(granted, out var decision))
            {
                var (rule, source) = (granted.Rule, granted.Source);
                var verb = rule.Effect == PermissionEffect.Deny ? "denied" : "allowed";
                decision = new AccessDecision(
                    rule.Effect == PermissionEffect.Allow,
                    $"{verb} by {rule.Resource}:{rule.Action} in {source.Describe()}",
                    rule,
                    source);
                decisions[granted] = decision;
            }

            return decision;
        }

        const string any = PermissionRule.Wildcard;
        var anyResourceActions = slots.Keys.Where(k => k.Resource == any && k.Action != any).Select(k => k.Action).ToList();

        var anyResource = Compose(DecisionAmong((any, any)), anyResourceActions.Select(a => (a, DecisionAmong((any, a), (any, any)))));

        var byResource = slots.Keys
            .Where(k => k.Resource != any)
            .GroupBy(k => k.Resource, StringComparer.Ordinal)
            .ToFrozenDictionary(
                g => g.Key,
                g => Compose(
                    DecisionAmong((g.Key, any), (any, any)),
                    g.Select(k => k.Action).Concat(anyResourceActions).Where(a => a != any).Distinct(StringComparer.Ordinal)
                        .Select(a => (a, DecisionAmong((g.Key, a), (g.Key, any), (any, a), (any, any))))),
                StringComparer.OrdinalIgnoreCase);

        return (byResource, anyResource);
    }

    // Only actions decided differently from the rest of the resource need an entry of their own.
    private static ResourceDecisions Compose(AccessDecision otherActions, IEnumerable<(string Action, AccessDecision Decision)> byAction)
        => new(
            byAction.Where(d => !ReferenceEquals(d.Decision, otherActions))
                .ToFrozenDictionary(d => d.Action, d => d.Decision, StringComparer.OrdinalIgnoreCase),
            otherActions);

    /// <summary>The first deny and the first allow given for one (resource, action) pair.</summary>
    private readonly record struct Slot(GrantedRule? Deny, GrantedRule? Allow);

    /// <summary>The decisions for one resource (or for any resource without rules of its own).</summary>
    private sealed record ResourceDecisions(FrozenDictionary<string, AccessDecision> ByAction, AccessDecision OtherActions);
}
