using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using Tessera.Core.Common;

namespace Tessera.Server.ApiCredentials;

/// <summary>A public key as Tessera keeps it: its public JWK (with "kid" = thumbprint), the thumbprint, and what kind of key it is.</summary>
public sealed record ParsedPublicKey(string Jwk, string Thumbprint, string KeyType);

/// <summary>
/// Reads the public key an API user registers for private_key_jwt: a JWK, or a PEM public key or certificate.
/// Only RSA of at least 2048 bits and EC P-256 are taken (the keys of RS256, PS256 and ES256). A private key is
/// refused rather than stripped: whoever pasted it has leaked it, and should make a new one.
/// </summary>
public static class PublicKeys
{
    /// <summary>Longer than any PEM certificate of a 4096-bit key with a modest chain of extensions.</summary>
    public const int MaxLength = 16_384;

    public const int MinRsaBits = 2048;

    // Members a JWK carries only when it holds private (or symmetric) key material.
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    /// <summary>The algorithms a registered key may sign assertions with.</summary>
    public static readonly IReadOnlyList<string> Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];

    /// <summary>Parses <paramref name="jwk"/> (a JWK object, or a string holding a JWK or a PEM) or <paramref name="pem"/>.</summary>
    public static Outcome<ParsedPublicKey> Parse(JsonElement? jwk, string? pem)
    {
        if (jwk is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } && !string.IsNullOrEmpty(pem))
        {
            return Invalid("invalid_key", "Send the key once: as \"jwk\" or as \"pem\", not both.");
        }

        string text;
        if (jwk is { ValueKind: JsonValueKind.Object } obj)
        {
            text = obj.GetRawText();
        }
        else if (jwk is { ValueKind: JsonValueKind.String } str)
        {
            text = str.GetString() ?? "";
        }
        else if (jwk is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            return Invalid("invalid_key", "\"jwk\" must be a JSON Web Key object, or a string holding a JWK or a PEM public key.");
        }
        else
        {
            text = pem ?? "";
        }

        text = text.Trim();
        if (text.Length == 0)
        {
            return Invalid("invalid_key", "A public key is required: a JWK in \"jwk\", or a PEM public key or certificate in \"pem\".");
        }

        if (text.Length > MaxLength)
        {
            return Invalid("invalid_key", $"The key is longer than {MaxLength} characters.");
        }

        return text.StartsWith('{') ? FromJwk(text) : FromPem(text);
    }

    /// <summary>The stored JWK as a key that can check signatures.</summary>
    public static SecurityKey ToSecurityKey(string jwk) => new JsonWebKey(jwk);

    private static Outcome<ParsedPublicKey> FromJwk(string json)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException)
        {
            return Invalid("invalid_key", "The key is not valid JSON.");
        }

        if (PrivateMembers.FirstOrDefault(m => root.TryGetProperty(m, out _)) is { } member)
        {
            return member == "k"
                ? Invalid("unsupported_key", "A symmetric (\"oct\") key cannot be registered: HMAC assertions are refused. Register an RSA (2048 bits or more) or EC P-256 public key.")
                : Invalid("private_key_refused", $"This JWK holds private key material (\"{member}\"). Register only the public key, and treat the private key you sent as leaked: make a new pair.");
        }

        if (root.TryGetProperty("alg", out var alg) && (alg.ValueKind != JsonValueKind.String || !Algorithms.Contains(alg.GetString())))
        {
            return Invalid("unsupported_key", $"The key's \"alg\" must be one of {string.Join(", ", Algorithms)}.");
        }

        var kty = root.TryGetProperty("kty", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
        try
        {
            switch (kty)
            {
                case "RSA":
                    using (var rsa = RSA.Create())
                    {
                        rsa.ImportParameters(new RSAParameters { Modulus = Bytes(root, "n"), Exponent = Bytes(root, "e") });
                        return FromRsa(rsa);
                    }

                case "EC":
                    var crv = root.TryGetProperty("crv", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    if (crv != "P-256")
                    {
                        return Invalid("unsupported_key", $"Only the EC curve P-256 (ES256) is taken, not \"{crv}\".");
                    }

                    using (var ec = ECDsa.Create())
                    {
                        ec.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = Bytes(root, "x"), Y = Bytes(root, "y") } });
                        return FromEc(ec);
                    }

                default:
                    return Invalid("unsupported_key", $"Only RSA and EC keys are taken, not \"{kty}\".");
            }
        }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException or InvalidOperationException)
        {
            return Invalid("invalid_key", $"The {kty} key is not valid: its members do not make a key.");
        }
    }

    private static Outcome<ParsedPublicKey> FromPem(string pem)
    {
        if (pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            return Invalid("private_key_refused", "This is a private key. Register only the public key (\"-----BEGIN PUBLIC KEY-----\"), and treat the private key you sent as leaked: make a new pair.");
        }

        if (!pem.StartsWith("-----BEGIN ", StringComparison.Ordinal))
        {
            return Invalid("invalid_key", "The key is neither a JWK (a JSON object) nor a PEM (\"-----BEGIN PUBLIC KEY-----\").");
        }

        try
        {
            if (pem.Contains("BEGIN CERTIFICATE", StringComparison.Ordinal))
            {
                using var certificate = X509Certificate2.CreateFromPem(pem);
                using var certRsa = certificate.GetRSAPublicKey();
                if (certRsa is not null)
                {
                    return FromRsa(certRsa);
                }

                using var certEc = certificate.GetECDsaPublicKey();
                return certEc is not null ? FromEc(certEc) : Invalid("unsupported_key", "The certificate's key is neither RSA nor EC.");
            }

            using var rsa = RSA.Create();
            try
            {
                rsa.ImportFromPem(pem);
                return FromRsa(rsa);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                // Not an RSA key: perhaps an EC one.
            }

            using var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return FromEc(ec);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return Invalid("invalid_key", "The PEM holds no RSA or EC public key that can be read.");
        }
    }

    private static Outcome<ParsedPublicKey> FromRsa(RSA rsa)
    {
        if (rsa.KeySize < MinRsaBits)
        {
            return Invalid("weak_key", $"The RSA key has {rsa.KeySize} bits; at least {MinRsaBits} are required.");
        }

        var p = rsa.ExportParameters(false);
        var key = new JsonWebKey { Kty = JsonWebAlgorithmsKeyTypes.RSA, N = Base64UrlEncoder.Encode(p.Modulus), E = Base64UrlEncoder.Encode(p.Exponent) };
        return Done(key, $"RSA {rsa.KeySize}", k => new { kty = k.Kty, n = k.N, e = k.E, kid = k.Kid });
    }

    private static Outcome<ParsedPublicKey> FromEc(ECDsa ec)
    {
        var p = ec.ExportParameters(false);
        if (!p.Curve.IsNamed || (p.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value && p.Curve.Oid.FriendlyName is not ("nistP256" or "ECDSA_P256")))
        {
            return Invalid("unsupported_key", "Only the EC curve P-256 (ES256) is taken.");
        }

        var key = new JsonWebKey { Kty = JsonWebAlgorithmsKeyTypes.EllipticCurve, Crv = JsonWebKeyECTypes.P256, X = Base64UrlEncoder.Encode(p.Q.X), Y = Base64UrlEncoder.Encode(p.Q.Y) };
        return Done(key, "EC P-256", k => new { kty = k.Kty, crv = k.Crv, x = k.X, y = k.Y, kid = k.Kid });
    }

    private static Outcome<ParsedPublicKey> Done(JsonWebKey key, string keyType, Func<JsonWebKey, object> members)
    {
        var thumbprint = Base64UrlEncoder.Encode(key.ComputeJwkThumbprint());
        key.Kid = thumbprint;
        return Outcome<ParsedPublicKey>.Ok(new ParsedPublicKey(JsonSerializer.Serialize(members(key)), thumbprint, keyType));
    }

    private static byte[] Bytes(JsonElement root, string member)
        => root.TryGetProperty(member, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? Base64UrlEncoder.DecodeBytes(text)
            : throw new FormatException($"\"{member}\" is missing.");

    private static Failure Invalid(string code, string detail) => Failure.Invalid(code, detail, new Dictionary<string, string[]> { ["jwk"] = [detail] });
}
