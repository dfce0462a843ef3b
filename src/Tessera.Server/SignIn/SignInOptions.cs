using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.SignIn;

/// <summary>`Tessera:Tokens`: access tokens issued at /connect/token.</summary>
public sealed class TokenOptions
{
    /// <summary>Lifetime of an access token.</summary>
    [Range(1, 1440)]
    public int AccessTokenMinutes { get; set; } = 15;

    /// <summary>The audience of tokens for Tessera's own REST API; other audiences are refused by it.</summary>
    [Required]
    public string Audience { get; set; } = "tessera-api";

    /// <summary>
    /// How long a user's standing (status, security stamp, privileges) and the password policy that
    /// sign-in applies may be served from memory. A change made on this instance applies at once;
    /// other instances see it within this bound.
    /// </summary>
    [Range(0, 300)]
    public int CallerCacheSeconds { get; set; } = 5;

    /// <summary>
    /// The JWS algorithm of access tokens: ES256 (ECDSA P-256, the default: a signature costs a twentieth of an
    /// RSA-2048 one) or RS256 for resource servers that know no other. Both keys are always published in the JWKS
    /// and accepted, so a switch does not end tokens already issued.
    /// </summary>
    [RegularExpression("^(ES256|RS256)$", ErrorMessage = "Tessera:Tokens:SigningAlgorithm must be ES256 or RS256.")]
    public string SigningAlgorithm { get; set; } = "ES256";

    /// <summary>
    /// Public clients (no secret) through which BackOffice users obtain access tokens with the authorization
    /// code flow and PKCE (S256). None by default: the authorization endpoint refuses every client until one is
    /// registered here.
    /// </summary>
    public List<PublicClient> Clients { get; set; } = [];
}

/// <summary>`Tessera:Tokens:Clients:N`: a public client of the authorization code flow.</summary>
public sealed class PublicClient
{
    /// <summary>The client_id the application sends.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>
    /// The exact redirect URIs codes may be sent to: https, http on a loopback address (RFC 8252 §7.3), or a
    /// private-use scheme with a dot in its name (RFC 8252 §7.1). Compared as strings, without a fragment.
    /// </summary>
    public List<string> RedirectUris { get; set; } = [];
}

/// <summary>`Tessera:Sessions`: BackOffice cookie sessions.</summary>
public sealed class SessionOptions
{
    /// <summary>A session unused this long ends (sliding).</summary>
    [Range(1, 1440)]
    public int IdleMinutes { get; set; } = 30;

    /// <summary>A session ends this long after sign-in, however active.</summary>
    [Range(1, 720)]
    public int AbsoluteHours { get; set; } = 12;
}

/// <summary>Lockout thresholds until the password policy supplies its own.</summary>
public sealed record LockoutRule(int Threshold, TimeSpan Duration)
{
    public static readonly LockoutRule Default = new(5, TimeSpan.FromMinutes(15));
}

/// <summary>Claim types Tessera puts into tokens and session cookies.</summary>
public static class TesseraClaims
{
    public const string Subject = "sub";
    public const string Username = "preferred_username";
    public const string UserType = "user_type";
    public const string Role = "role";
    public const string Privilege = "privilege";

    /// <summary>A digest of the user's security stamp: when the stamp changes, the token or session ends.</summary>
    public const string Stamp = "tessera_stamp";
    public const string SessionStarted = "session_started";

    /// <summary>The session's id (the stored session record), in the session principal.</summary>
    public const string SessionId = "sid";

    /// <summary>Authentication method references (RFC 8176), one claim per method: in sessions and in authorization-code tokens.</summary>
    public const string Amr = "amr";

    /// <summary>Authentication context class reference in authorization-code tokens: "1" for one factor, "2" for two.</summary>
    public const string Acr = "acr";

    /// <summary>When the session last proved a second factor (ISO 8601, UTC): step-up compares it with stepUpMinutes.</summary>
    public const string SecondFactorAt = "tessera_mfa_at";

    /// <summary>In a pending sign-in: which <see cref="PendingStage"/> it is at.</summary>
    public const string PendingStage = "tessera_pending";
}
