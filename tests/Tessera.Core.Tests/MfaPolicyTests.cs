using Tessera.Core.Credentials;
using static Tessera.Core.Access.Privileges;

namespace Tessera.Core.Tests;

public class MfaPolicyTests
{
    [Theory]
    // required, required roles, the user's privileges, the user's roles, needs MFA
    [InlineData("none", new string[0], new[] { ManageUsers }, new[] { "Administrator" }, false)]
    [InlineData("none", new[] { "Treasury" }, new string[0], new[] { "treasury" }, true)]
    [InlineData("none", new[] { "Treasury" }, new[] { ManageUsers }, new[] { "Sales" }, false)]
    [InlineData("privileged", new string[0], new[] { ManageUsers }, new string[0], true)]
    [InlineData("privileged", new string[0], new[] { ManageAuthenticationPolicy }, new string[0], true)]
    [InlineData("privileged", new string[0], new[] { "MANAGE_ANYTHING_NEW" }, new string[0], true)]
    [InlineData("privileged", new string[0], new[] { "APPROVE_PAYMENTS" }, new string[0], true)]
    [InlineData("privileged", new string[0], new[] { AgentAssist }, new string[0], true)]
    [InlineData("privileged", new string[0], new[] { ViewUsers, ViewRoles, ViewAuditLog, Authorize }, new string[0], false)]
    [InlineData("privileged", new string[0], new string[0], new string[0], false)]
    [InlineData("privileged", new[] { "Auditors" }, new[] { ViewAuditLog }, new[] { "Auditors" }, true)]
    [InlineData("all", new string[0], new string[0], new string[0], true)]
    [InlineData("all", new string[0], new[] { ViewUsers }, new[] { "Sales" }, true)]
    public void Who_needs_a_second_factor(string required, string[] requiredRoles, string[] privileges, string[] roles, bool expected)
        => Assert.Equal(expected, new MfaPolicy { Required = required, RequiredRoles = requiredRoles }.Requires(privileges, roles));

    [Fact]
    public void The_default_requires_it_of_privileged_users_with_a_15_minute_step_up_and_trusts_SSO_providers()
    {
        Assert.Equal(MfaRequirement.Privileged, MfaPolicy.Default.Required);
        Assert.Equal(15, MfaPolicy.Default.StepUpMinutes);
        Assert.True(MfaPolicy.Default.TrustProviderMfa);
        Assert.Empty(MfaPolicy.Default.RequiredRoles);
        Assert.Empty(MfaPolicy.Default.Validate());
    }

    [Theory]
    [InlineData("required", "sometimes", 15, false)]
    [InlineData("required", "", 15, false)]
    [InlineData("required", "ALL", 15, false)]
    [InlineData("stepUpMinutes", "all", 0, false)]
    [InlineData("stepUpMinutes", "all", 721, false)]
    [InlineData("stepUpMinutes", "all", 1, true)]
    [InlineData("stepUpMinutes", "none", 720, true)]
    public void Each_setting_is_validated(string field, string required, int stepUpMinutes, bool valid)
        => Assert.Equal(valid, !new MfaPolicy { Required = required, StepUpMinutes = stepUpMinutes }.Validate().ContainsKey(field));

    [Theory]
    [InlineData(new[] { "" }, false)]
    [InlineData(new[] { "Ops", " " }, false)]
    [InlineData(new[] { "Ops", "Treasury" }, true)]
    public void Required_roles_are_names(string[] roles, bool valid)
        => Assert.Equal(valid, !new MfaPolicy { RequiredRoles = roles }.Validate().ContainsKey("requiredRoles"));

    [Fact]
    public void A_missing_role_list_is_refused_rather_than_read_as_none()
        => Assert.True(new MfaPolicy { RequiredRoles = null! }.Validate().ContainsKey("requiredRoles"));
}
