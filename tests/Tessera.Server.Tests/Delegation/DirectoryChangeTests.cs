using System.Text.Json;
using Tessera.Server.Changes;
using Tessera.Server.Credentials;
using Tessera.Server.Groups;
using Tessera.Server.Users;

namespace Tessera.Server.Tests.Delegation;

/// <summary>A directory change is a value that can be stored (for approval, say) and read back, never with a secret in it.</summary>
public sealed class DirectoryChangeTests
{
    private static readonly Guid Actor = Guid.Parse("01a2f000-0000-7000-8000-000000000001");
    private static readonly Guid Target = Guid.Parse("01a2f000-0000-7000-8000-000000000002");

    public static TheoryData<DirectoryChange> Changes() =>
    [
        new SetUserRoles(Actor, Target, ["Teller", "Auditor"]),
        new UpdateUser(Actor, Target, new UpdateUserRequest(null, "new@tessera.test", null, null, "disabled", null, null)),
        new SetGroupMembers(Actor, Target, [Actor, Target]),
        new CreateGroup(null, new GroupRequest("Shop", "", ["Teller"], [Target])),
        new DeleteUser(Actor, Target),
        new RevokeAccess(Actor, Target, Actor, null, Target),
    ];

    [Theory]
    [MemberData(nameof(Changes))]
    public void A_change_reads_back_equal_to_itself_through_the_base_type(DirectoryChange change)
    {
        var json = JsonSerializer.Serialize(change, JsonSerializerOptions.Web);
        var back = JsonSerializer.Deserialize<DirectoryChange>(json, JsonSerializerOptions.Web)!;

        Assert.Equal(change.GetType(), back.GetType());
        Assert.Equal(change.Action, back.Action);
        Assert.Equal(change.Target, back.Target);
        Assert.Equal(change.ActorId, back.ActorId);
        // Records with lists compare by reference: compare their serialized forms instead.
        Assert.Equal(json, JsonSerializer.Serialize(back, JsonSerializerOptions.Web));
        Assert.Contains("\"kind\":", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_are_never_part_of_the_stored_value()
    {
        var create = CreateUser.Of(Actor, new CreateUserRequest("erp", "erp@tessera.test", null, null, "api", null, ["System"], null, "Erp-Secret-Value-9931"));
        var password = new SetPassword(Actor, Target) { Secret = new PasswordRequest("Another-Secret-7731", "Another-Secret-7731") };

        Assert.Equal("Erp-Secret-Value-9931", create.Password);
        foreach (DirectoryChange change in new DirectoryChange[] { create, password })
        {
            var json = JsonSerializer.Serialize(change, JsonSerializerOptions.Web);
            Assert.DoesNotContain("Secret-", json, StringComparison.Ordinal);
        }
    }
}
