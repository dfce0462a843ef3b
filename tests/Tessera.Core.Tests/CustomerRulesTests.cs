using Tessera.Core.Customers;

namespace Tessera.Core.Tests;

public class CustomerRulesTests
{
    [Theory]
    [InlineData("C")]
    [InlineData("DE--00012")]
    [InlineData("shop_1.customer-9")]
    public void Acceptable_references_pass(string reference) => Assert.Null(CustomerRules.ValidateReference(reference));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("has space")]
    [InlineData("a/b")]
    [InlineData("jäne")]
    [InlineData("x@y")]
    public void Unacceptable_references_are_refused(string? reference) => Assert.NotNull(CustomerRules.ValidateReference(reference));

    [Fact]
    public void A_reference_of_101_characters_is_refused_and_100_pass()
    {
        Assert.Null(CustomerRules.ValidateReference(new string('a', 100)));
        Assert.NotNull(CustomerRules.ValidateReference(new string('a', 101)));
    }

    [Theory]
    [InlineData("active", "active")]
    [InlineData(" Disabled ", "disabled")]
    [InlineData("locked", null)]
    [InlineData(null, null)]
    public void Status_is_active_or_disabled(string? given, string? expected) => Assert.Equal(expected, CustomerRules.ParseStatus(given));

    [Fact]
    public void References_compare_ignoring_case() => Assert.Equal(CustomerRules.NormalizeReference("ab-1"), CustomerRules.NormalizeReference(" AB-1"));
}
