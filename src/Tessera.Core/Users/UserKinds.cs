namespace Tessera.Core.Users;

/// <summary>Who a user is: a person using the Back Office, or an integrated system using the API.</summary>
public enum UserType
{
    BackOffice,
    Api,
}

/// <summary>Where a user stands in their life cycle.</summary>
public enum UserStatus
{
    /// <summary>Created, but no password set and no SSO sign-in yet.</summary>
    Invited,
    Active,
    Locked,
    Disabled,
}

/// <summary>How a user proves who they are.</summary>
public enum CredentialMode
{
    Password,
    Sso,
}

/// <summary>The wire names of the user enums, shared by the API, the UI and storage.</summary>
public static class UserWireNames
{
    public static string ToWire(this UserType type) => type == UserType.Api ? "api" : "backoffice";

    public static string ToWire(this UserStatus status) => status.ToString().ToLowerInvariant();

    public static string ToWire(this CredentialMode mode) => mode.ToString().ToLowerInvariant();

    public static bool TryParseType(string? value, out UserType type)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "backoffice": type = UserType.BackOffice; return true;
            case "api": type = UserType.Api; return true;
            default: type = default; return false;
        }
    }

    public static bool TryParseStatus(string? value, out UserStatus status)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "invited": status = UserStatus.Invited; return true;
            case "active": status = UserStatus.Active; return true;
            case "locked": status = UserStatus.Locked; return true;
            case "disabled": status = UserStatus.Disabled; return true;
            default: status = default; return false;
        }
    }

    public static bool TryParseCredentialMode(string? value, out CredentialMode mode)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "password": mode = CredentialMode.Password; return true;
            case "sso": mode = CredentialMode.Sso; return true;
            default: mode = default; return false;
        }
    }
}
