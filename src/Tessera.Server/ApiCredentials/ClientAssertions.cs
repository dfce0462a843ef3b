namespace Tessera.Server.ApiCredentials;

/// <summary>private_key_jwt client authentication (RFC 7523, OpenID Connect Core §9).</summary>
public static class ClientAssertions
{
    /// <summary>A longer jti is refused: an identifier for replay detection, not a payload.</summary>
    public const int MaxJtiLength = 200;
}
