using Tessera.Core.Access;

namespace Tessera.Core.Tests;

public class PermissionRuleTests
{
    [Theory]
    [InlineData("catalog")]
    [InlineData("catalog.products")]
    [InlineData("catalog.products.images")]
    [InlineData("sales_2024.re-orders")]
    [InlineData("Catalog.Products")]
    [InlineData("*")]
    public void Acceptable_resources_pass(string resource) => Assert.Null(PermissionRule.ValidateResource(resource));

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(".catalog")]
    [InlineData("catalog.")]
    [InlineData("catalog..products")]
    [InlineData("catalog.*")]
    [InlineData("**")]
    [InlineData("catalog products")]
    [InlineData("catalog/products")]
    [InlineData("catalog:products")]
    [InlineData("katalög")]
    public void Unacceptable_resources_are_refused(string resource) => Assert.NotNull(PermissionRule.ValidateResource(resource));

    [Fact]
    public void Resources_longer_than_the_limit_are_refused()
    {
        Assert.Null(PermissionRule.ValidateResource(new string('a', PermissionRule.MaxResourceLength)));
        Assert.NotNull(PermissionRule.ValidateResource(new string('a', PermissionRule.MaxResourceLength + 1)));
    }

    [Theory]
    [InlineData("view")]
    [InlineData("edit")]
    [InlineData("bulk_edit")]
    [InlineData("re-index")]
    [InlineData("export2")]
    [InlineData("EDIT")]
    [InlineData("*")]
    public void Acceptable_actions_pass(string action) => Assert.Null(PermissionRule.ValidateAction(action));

    [Theory]
    [InlineData("")]
    [InlineData("view.all")]
    [InlineData("ed it")]
    [InlineData("*e")]
    [InlineData("édit")]
    [InlineData("view:all")]
    public void Unacceptable_actions_are_refused(string action) => Assert.NotNull(PermissionRule.ValidateAction(action));

    [Theory]
    [InlineData("allow", PermissionEffect.Allow)]
    [InlineData("deny", PermissionEffect.Deny)]
    [InlineData(" Deny ", PermissionEffect.Deny)]
    public void Effects_are_read_from_their_wire_names(string wire, PermissionEffect expected)
    {
        Assert.True(PermissionEffects.TryParse(wire, out var effect));
        Assert.Equal(expected, effect);
        Assert.Equal(wire.Trim().ToLowerInvariant(), effect.ToWire());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("permit")]
    [InlineData("0")]
    public void Unknown_effects_are_refused(string? wire) => Assert.False(PermissionEffects.TryParse(wire, out _));

    [Fact]
    public void A_rule_is_parsed_and_lower_cased()
    {
        Assert.True(PermissionRule.TryParse("Catalog.Products", "EDIT", "deny", out var rule, out var errors));
        Assert.Empty(errors);
        Assert.Equal(new PermissionRule("catalog.products", "edit", PermissionEffect.Deny), rule);
    }

    [Fact]
    public void A_malformed_rule_reports_every_bad_field()
    {
        Assert.False(PermissionRule.TryParse("catalog..products", "", "permit", out var rule, out var errors));
        Assert.Null(rule);
        Assert.Equal(["action", "effect", "resource"], errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_malformed_rule_cannot_be_constructed()
    {
        Assert.Throws<ArgumentException>(() => new PermissionRule("catalog..products", "edit", PermissionEffect.Allow));
        Assert.Throws<ArgumentException>(() => new PermissionRule("catalog", "view.all", PermissionEffect.Allow));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PermissionRule("catalog", "view", (PermissionEffect)7));
        var rule = new PermissionRule("catalog", "view", PermissionEffect.Allow);
        Assert.Throws<ArgumentException>(() => rule with { Resource = "" });
        Assert.Equal("catalog.products", (rule with { Resource = "CATALOG.Products" }).Resource);
    }
}
