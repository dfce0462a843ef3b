using System.ComponentModel.DataAnnotations;

namespace Tessera.Server.ApiCredentials;

/// <summary>`Tessera:ApiCredentials`: how often the expiry warnings of API users' credentials are looked for.</summary>
public sealed class ApiCredentialOptions
{
    public const string Section = "Tessera:ApiCredentials";

    /// <summary>
    /// Hours between two looks for credentials that expire within 14 or 3 days. Each warning goes out once whatever
    /// the period, so a shorter one only makes it come sooner after its day begins.
    /// </summary>
    [Range(1, 168, ErrorMessage = Section + ":ExpiryCheckHours must be a whole number of hours from 1 to 168 (a week).")]
    public int ExpiryCheckHours { get; set; } = 24;
}
