using Tessera.Core.Governance;

namespace Tessera.Core.Tests.Governance;

public class SeparationOfDutiesTests
{
    private static readonly SodConstraintRule MakerChecker = new(Guid.NewGuid(), "maker-checker", ["Payments.Maker", "Payments.Checker"], 1);
    private static readonly SodConstraintRule TwoOfThree = new(Guid.NewGuid(), "two-of-three", ["Teller", "Auditor", "Vault"], 2);

    [Theory]
    [InlineData(new string[0], "")]
    [InlineData(new[] { "Payments.Maker" }, "")]
    [InlineData(new[] { "Payments.Maker", "Teller" }, "")]
    [InlineData(new[] { "Payments.Maker", "Payments.Checker" }, "maker-checker")]
    [InlineData(new[] { "payments.maker", "PAYMENTS.CHECKER" }, "maker-checker")]
    [InlineData(new[] { "Teller", "Auditor" }, "")]
    [InlineData(new[] { "Teller", "Auditor", "Vault" }, "two-of-three")]
    [InlineData(new[] { "Teller", "Auditor", "Vault", "Payments.Maker", "Payments.Checker" }, "maker-checker,two-of-three")]
    public void A_user_breaks_a_constraint_only_when_holding_more_than_maxHeld_of_its_roles(string[] held, string broken)
    {
        var violations = SeparationOfDuties.Violations([MakerChecker, TwoOfThree], held);
        Assert.Equal(broken.Split(',', StringSplitOptions.RemoveEmptyEntries), violations.Select(v => v.Constraint));
    }

    [Fact]
    public void A_violation_names_the_constraint_and_the_held_roles_in_order()
    {
        var violation = Assert.Single(SeparationOfDuties.Violations([TwoOfThree], ["Vault", "Teller", "Auditor", "Other"]));
        Assert.Equal(TwoOfThree.Id, violation.ConstraintId);
        Assert.Equal(2, violation.MaxHeld);
        Assert.Equal(["Auditor", "Teller", "Vault"], violation.Roles);
    }

    [Theory]
    [InlineData("toxic", new[] { "A", "B" }, 1, null)]
    [InlineData("toxic", new[] { "A", "B", "C" }, 2, null)]
    [InlineData(null, new[] { "A", "B" }, 1, "name")]
    [InlineData("  ", new[] { "A", "B" }, 1, "name")]
    [InlineData("toxic", new[] { "A" }, 1, "roles")]
    [InlineData("toxic", new[] { "A", "a", " " }, 1, "roles")]
    [InlineData("toxic", new string[0], 1, "roles")]
    [InlineData("toxic", new[] { "A", "B" }, 0, "maxHeld")]
    [InlineData("toxic", new[] { "A", "B" }, 2, "maxHeld")]
    [InlineData("toxic", new[] { "A", "B", "c" }, 3, "maxHeld")]
    public void A_constraint_needs_a_name_two_roles_and_a_maxHeld_below_their_count(string? name, string[] roles, int maxHeld, string? problem)
    {
        var found = SeparationOfDuties.Problem(name, roles, maxHeld);
        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.NotNull(found);
            Assert.StartsWith(problem, found, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_name_longer_than_the_column_is_refused()
        => Assert.NotNull(SeparationOfDuties.Problem(new string('n', SeparationOfDuties.MaxNameLength + 1), ["A", "B"], 1));
}
