using System.ComponentModel.DataAnnotations;
using Fido2NetLib;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Passkeys;

/// <summary>`Tessera:Passkeys`: the WebAuthn relying party. Its id and origin come from `Tessera:PublicUrl`.</summary>
public sealed class PasskeyOptions
{
    /// <summary>The name authenticators show beside the account.</summary>
    [Required, StringLength(64, MinimumLength = 1)]
    public string RelyingPartyName { get; set; } = "Tessera";

    /// <summary>
    /// Further origins (scheme://host[:port]) whose pages may use passkeys, e.g. a second address of the same host.
    /// Each must be a site of the relying party: its host is the RP id or a subdomain of it, or WebAuthn refuses it anyway.
    /// </summary>
    public List<string> ExtraOrigins { get; set; } = [];

    /// <summary>Passkey requests allowed per client address (per user once signed in) in five minutes; more get 429.</summary>
    [Range(1, 100_000)]
    public int RequestsPerFiveMinutes { get; set; } = 60;
}

/// <summary>Builds Fido2's configuration from the public address, and refuses a wrong setting at the start, by name.</summary>
public sealed class PasskeyConfiguration(IOptions<TesseraOptions> tessera, IOptions<PasskeyOptions> passkeys)
{
    /// <summary>How long a ceremony (options to answer) may take; the browser's timeout and the state cookie's life.</summary>
    public static readonly TimeSpan CeremonyLifetime = TimeSpan.FromMinutes(5);

    public Fido2Configuration Fido2 => _fido2 ??= Build(tessera.Value, passkeys.Value);

    private Fido2Configuration? _fido2;

    private static Fido2Configuration Build(TesseraOptions tessera, PasskeyOptions passkeys)
    {
        var publicUrl = new Uri(tessera.PublicUrl);
        return new Fido2Configuration
        {
            RPID = publicUrl.Host,
            RPName = passkeys.RelyingPartyName,
            Origins = new HashSet<string>(passkeys.ExtraOrigins.Select(Origin).Prepend(Origin(tessera.PublicUrl)), StringComparer.Ordinal),
            Timeout = (uint)CeremonyLifetime.TotalMilliseconds,
        };
    }

    private static string Origin(string url) => new Uri(url).GetLeftPart(UriPartial.Authority);

}

/// <summary>Refuses extra origins that are no origin or not on the relying party, naming the setting.</summary>
public sealed class PasskeyOptionsValidator(IOptions<TesseraOptions> tessera) : IValidateOptions<PasskeyOptions>
{
    public ValidateOptionsResult Validate(string? name, PasskeyOptions options)
    {
        if (!Uri.TryCreate(tessera.Value.PublicUrl, UriKind.Absolute, out var publicUrl))
        {
            return ValidateOptionsResult.Skip; // Tessera:PublicUrl names its own error.
        }

        var failures = new List<string>();
        for (var i = 0; i < options.ExtraOrigins.Count; i++)
        {
            var origin = options.ExtraOrigins[i];
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/")
            {
                failures.Add($"Tessera:Passkeys:ExtraOrigins:{i} must be an origin (scheme://host[:port]), not '{origin}'.");
            }
            else if (!uri.Host.Equals(publicUrl.Host, StringComparison.OrdinalIgnoreCase) && !uri.Host.EndsWith("." + publicUrl.Host, StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"Tessera:Passkeys:ExtraOrigins:{i} ('{origin}') is not on the relying party {publicUrl.Host} (the host of Tessera:PublicUrl).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
