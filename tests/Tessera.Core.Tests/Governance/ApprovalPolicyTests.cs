using Tessera.Core.Governance;
using Xunit;

namespace Tessera.Core.Tests.Governance;

public sealed class ApprovalPolicyTests
{
    [Theory]
    [InlineData(new string[0], 72, null)]
    [InlineData(new[] { "grant_role", "delete_user" }, 1, null)]
    [InlineData(new[] { "change_sod_constraints" }, 720, null)]
    [InlineData(new[] { "grant_role" }, 0, "requestLifetimeHours")]
    [InlineData(new[] { "grant_role" }, 721, "requestLifetimeHours")]
    [InlineData(new[] { "grant_roles" }, 72, "operations")]
    [InlineData(new[] { "change_approval_policy" }, 72, "operations")]
    public void Validates_operations_and_lifetime(string[] operations, int hours, string? field)
    {
        var errors = new ApprovalPolicy(operations, hours).Validate();
        if (field is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal([field], errors.Keys);
        }
    }

    [Fact]
    public void Operations_are_required()
        => Assert.Contains("operations", new ApprovalPolicy(null).Validate().Keys);

    [Theory]
    [InlineData(new[] { "grant_role" }, new[] { "grant_role", "delete_user" }, false)]
    [InlineData(new[] { "grant_role", "delete_user" }, new[] { "delete_user" }, true)]
    [InlineData(new[] { "grant_role" }, new string[0], true)]
    [InlineData(new string[0], new string[0], false)]
    [InlineData(new[] { "delete_user" }, new[] { "delete_user" }, false)]
    public void Removing_an_operation_relaxes_the_policy(string[] before, string[] after, bool relaxed)
        => Assert.Equal(relaxed, new ApprovalPolicy(before).IsRelaxedBy(new ApprovalPolicy(after, 720)));

    [Fact]
    public void Normalized_keeps_each_operation_once_in_catalog_order()
        => Assert.Equal(["grant_role", "delete_user"], new ApprovalPolicy(["delete_user", "grant_role", "delete_user"]).Normalized().Operations);

    [Fact]
    public void The_default_requires_nothing()
    {
        Assert.False(ApprovalPolicy.Default.Any);
        Assert.All(ApprovalOperations.All, o => Assert.False(ApprovalPolicy.Default.Requires(o)));
    }
}
