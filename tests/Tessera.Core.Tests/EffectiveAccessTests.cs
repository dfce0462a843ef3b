using Tessera.Core.Access;

namespace Tessera.Core.Tests;

public class EffectiveAccessTests
{
    private const string NoRuleAllows = "no rule allows this action on this resource";

    // Each line is one rule a user holds: "Role[ via Group]: allow|deny resource:action".
    [Theory]
    // Default deny.
    [InlineData(new string[0], "catalog.products", "edit", false, NoRuleAllows)]
    [InlineData(new[] { "Editors: allow catalog.products:view" }, "catalog.products", "edit", false, NoRuleAllows)]
    // Allow.
    [InlineData(new[] { "Editors: allow catalog.products:edit" }, "catalog.products", "edit", true, "allowed by catalog.products:edit in role Editors")]
    [InlineData(new[] { "Editors via Shop: allow catalog.products:edit" }, "catalog.products", "edit", true, "allowed by catalog.products:edit in role Editors via group Shop")]
    // Resources match exactly: no inheritance between sections.
    [InlineData(new[] { "Editors: allow catalog:edit" }, "catalog.products", "edit", false, NoRuleAllows)]
    [InlineData(new[] { "Editors: allow catalog.products:edit" }, "catalog", "edit", false, NoRuleAllows)]
    // Deny beats allow, whichever source each comes from and in whichever order.
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Auditors via Shop: deny catalog.products:edit" }, "catalog.products", "edit", false, "denied by catalog.products:edit in role Auditors via group Shop")]
    [InlineData(new[] { "Auditors: deny catalog.products:edit", "Editors via Shop: allow catalog.products:edit" }, "catalog.products", "edit", false, "denied by catalog.products:edit in role Auditors")]
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Editors: deny catalog.products:edit" }, "catalog.products", "edit", false, "denied by catalog.products:edit in role Editors")]
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Readers via Support: deny catalog.products:*" }, "catalog.products", "edit", false, "denied by catalog.products:* in role Readers via group Support")]
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Readers: deny *:edit" }, "catalog.products", "edit", false, "denied by *:edit in role Readers")]
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Frozen via Leavers: deny *:*" }, "catalog.products", "edit", false, "denied by *:* in role Frozen via group Leavers")]
    // Wildcard resource.
    [InlineData(new[] { "Readers: allow *:view" }, "catalog.products", "view", true, "allowed by *:view in role Readers")]
    [InlineData(new[] { "Readers: allow *:view" }, "sales.orders", "view", true, "allowed by *:view in role Readers")]
    [InlineData(new[] { "Readers: allow *:view" }, "sales.orders", "edit", false, NoRuleAllows)]
    [InlineData(new[] { "Readers: allow *:view", "Editors: allow catalog.products:edit" }, "catalog.products", "view", true, "allowed by *:view in role Readers")]
    // Wildcard action.
    [InlineData(new[] { "Editors: allow catalog.products:*" }, "catalog.products", "delete", true, "allowed by catalog.products:* in role Editors")]
    [InlineData(new[] { "Editors: allow catalog.products:*" }, "catalog.categories", "delete", false, NoRuleAllows)]
    [InlineData(new[] { "Editors: allow catalog.products:*", "Editors: deny catalog.products:delete" }, "catalog.products", "delete", false, "denied by catalog.products:delete in role Editors")]
    [InlineData(new[] { "Editors: allow catalog.products:*", "Editors: deny catalog.products:delete" }, "catalog.products", "edit", true, "allowed by catalog.products:* in role Editors")]
    // Everything.
    [InlineData(new[] { "Admins: allow *:*" }, "anything.at.all", "whatever", true, "allowed by *:* in role Admins")]
    [InlineData(new[] { "Admins: allow *:*", "Guarded: deny sales.refunds:approve" }, "sales.refunds", "approve", false, "denied by sales.refunds:approve in role Guarded")]
    [InlineData(new[] { "Admins: allow *:*", "Guarded: deny sales.refunds:approve" }, "sales.refunds", "view", true, "allowed by *:* in role Admins")]
    [InlineData(new[] { "Admins: allow *:*", "Guarded: deny *:approve" }, "sales.refunds", "approve", false, "denied by *:approve in role Guarded")]
    // The most specific allow is reported when several allow.
    [InlineData(new[] { "Admins: allow *:*", "Editors: allow catalog.products:edit" }, "catalog.products", "edit", true, "allowed by catalog.products:edit in role Editors")]
    // Case does not matter, in rules or in questions.
    [InlineData(new[] { "Editors: allow Catalog.Products:EDIT" }, "CATALOG.products", "Edit", true, "allowed by catalog.products:edit in role Editors")]
    [InlineData(new[] { "Editors: allow catalog.products:edit", "Auditors: deny CATALOG.PRODUCTS:Edit" }, "Catalog.Products", "edit", false, "denied by catalog.products:edit in role Auditors")]
    [InlineData(new[] { "Readers: allow *:VIEW" }, "Sales.Orders", "View", true, "allowed by *:view in role Readers")]
    public void Access_is_decided_by_the_rules(string[] lines, string resource, string action, bool allowed, string reason)
    {
        var access = Compile(lines);

        var decision = access.Decide(resource, action);

        Assert.True(allowed == decision.Allowed && reason == decision.Reason, $"Decide({resource}, {action}) gave {decision}");
        Assert.Equal(allowed, access.IsAllowed(resource, action));
        Assert.Equal(reason == NoRuleAllows, decision.MatchedRule is null);
        Assert.Equal(decision.MatchedRule is null, decision.Source is null);
    }

    [Fact]
    public void A_decision_names_the_rule_and_the_source_that_decided_it()
    {
        var access = Compile("Editors: allow catalog.products:edit", "Auditors via Shop: deny catalog.products:edit");

        var decision = access.Decide("catalog.products", "edit");

        Assert.Equal(new PermissionRule("catalog.products", "edit", PermissionEffect.Deny), decision.MatchedRule);
        Assert.Equal(new AccessSource("Auditors", "Shop"), decision.Source);
    }

    [Theory]
    [InlineData("*", "edit")]
    [InlineData("catalog.products", "*")]
    [InlineData("*", "*")]
    [InlineData("", "edit")]
    [InlineData("catalog..products", "edit")]
    [InlineData("catalog.products", "")]
    [InlineData("katalög", "edit")]
    [InlineData("catalog", "edıt")]
    public void Questions_that_do_not_name_one_valid_resource_and_action_are_denied(string resource, string action)
    {
        var decision = Compile("Admins: allow *:*", "Editors: allow catalog:edit").Decide(resource, action);

        Assert.False(decision.Allowed, decision.Reason);
        Assert.Null(decision.MatchedRule);
    }

    [Fact]
    public void A_user_without_roles_may_do_nothing()
    {
        Assert.False(EffectiveAccess.None.Decide("catalog.products", "view").Allowed);
        Assert.Empty(EffectiveAccess.None.Privileges);
        Assert.Empty(EffectiveAccess.None.Rules);
    }

    [Fact]
    public void Privileges_are_the_union_of_direct_and_group_roles_with_their_sources()
    {
        var access = EffectiveAccess.Compile(
        [
            new RoleGrant("Editors", [Privileges.ViewUsers], []),
            new RoleGrant("Editors", [Privileges.ViewUsers], [], ViaGroup: "Shop"),
            new RoleGrant("Auditors", [Privileges.ViewAuditLog, Privileges.ViewUsers], [], ViaGroup: "Compliance"),
            new RoleGrant("Editors", [Privileges.ViewUsers], []),
        ]);

        Assert.Equal([Privileges.ViewAuditLog, Privileges.ViewUsers], access.Privileges.Order(StringComparer.Ordinal));
        Assert.True(access.HasPrivilege(Privileges.ViewUsers));
        Assert.True(access.HasPrivilege("view_users"));
        Assert.False(access.HasPrivilege(Privileges.ManageUsers));
        Assert.Equal(
            [new AccessSource("Editors", null), new AccessSource("Editors", "Shop"), new AccessSource("Auditors", "Compliance")],
            access.PrivilegeSources(Privileges.ViewUsers));
        Assert.Equal([new AccessSource("Auditors", "Compliance")], access.PrivilegeSources(Privileges.ViewAuditLog));
        Assert.Empty(access.PrivilegeSources(Privileges.ManageUsers));
    }

    [Fact]
    public void Rules_are_listed_with_their_sources_once_each()
    {
        var edit = new PermissionRule("catalog.products", "edit", PermissionEffect.Allow);
        var noRefunds = new PermissionRule("sales.refunds", "*", PermissionEffect.Deny);
        var access = EffectiveAccess.Compile(
        [
            new RoleGrant("Editors", [], [edit, edit]),
            new RoleGrant("Editors", [], [edit], ViaGroup: "Shop"),
            new RoleGrant("Auditors", [], [noRefunds], ViaGroup: "Shop"),
        ]);

        Assert.Equal(
            [
                new GrantedRule(edit, new AccessSource("Editors", null)),
                new GrantedRule(edit, new AccessSource("Editors", "Shop")),
                new GrantedRule(noRefunds, new AccessSource("Auditors", "Shop")),
            ],
            access.Rules);
    }

    [Fact]
    public void Many_roles_with_many_rules_are_decided_like_a_plain_scan_of_the_rules()
    {
        // A user with 20 roles of 50 rules each, checked against the definition: deny if any matching rule denies,
        // else allow if any matching rule allows.
        var random = new Random(20240601);
        string[] resources = ["*", "catalog", "catalog.products", "catalog.categories", "sales.orders", "sales.refunds", "users"];
        string[] actions = ["*", "view", "edit", "add", "delete", "approve"];
        var grants = Enumerable.Range(0, 20).Select(r => new RoleGrant(
            $"Role{r}",
            [],
            Enumerable.Range(0, 50).Select(_ => new PermissionRule(
                resources[random.Next(resources.Length)],
                actions[random.Next(actions.Length)],
                random.Next(100) == 0 ? PermissionEffect.Deny : PermissionEffect.Allow)).ToArray(),
            r % 2 == 0 ? null : $"Group{r}")).ToList();
        var access = EffectiveAccess.Compile(grants);
        var all = grants.SelectMany(g => g.Rules).ToList();
        var outcomes = new HashSet<bool>();

        foreach (var resource in resources.Skip(1).Append("unknown.section"))
        {
            foreach (var action in actions.Skip(1).Append("unknown"))
            {
                var matching = all.Where(r => (r.Resource == resource || r.Resource == "*") && (r.Action == action || r.Action == "*")).ToList();
                var expected = matching.Count > 0 && matching.All(r => r.Effect == PermissionEffect.Allow);
                var decision = access.Decide(resource, action);
                outcomes.Add(decision.Allowed);
                Assert.True(expected == decision.Allowed, $"Decide({resource}, {action}) gave {decision}");
                if (decision.MatchedRule is { } rule)
                {
                    Assert.Contains(rule, matching);
                    Assert.Equal(decision.Allowed, rule.Effect == PermissionEffect.Allow);
                }
            }
        }

        Assert.Equal(2, outcomes.Count);
    }

    private static EffectiveAccess Compile(params string[] lines)
    {
        var grants = new List<(string Role, string? Group, List<PermissionRule> Rules)>();
        foreach (var line in lines)
        {
            var (holder, rule) = (line[..line.IndexOf(':', StringComparison.Ordinal)], line[(line.IndexOf(':', StringComparison.Ordinal) + 2)..]);
            var via = holder.Split(" via ");
            var (role, group) = (via[0], via.Length > 1 ? via[1] : null);
            var effect = rule[..rule.IndexOf(' ', StringComparison.Ordinal)];
            var target = rule[(effect.Length + 1)..].Split(':');
            Assert.True(PermissionRule.TryParse(target[0], target[1], effect, out var parsed, out _), line);
            var index = grants.FindIndex(g => g.Role == role && g.Group == group);
            if (index < 0)
            {
                grants.Add((role, group, []));
                index = grants.Count - 1;
            }

            grants[index].Rules.Add(parsed);
        }

        return EffectiveAccess.Compile(grants.Select(g => new RoleGrant(g.Role, [], g.Rules, g.Group)));
    }
}
