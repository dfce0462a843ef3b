using System.Buffers.Binary;
using System.Formats.Cbor;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A WebAuthn authenticator and client in software, as a browser with a platform authenticator would be: it reads the
/// server's options, makes an EC P-256 key pair, and answers with a real attestation (fmt "none": authenticator data
/// with the RP id hash, flags UP|UV|AT, the credential and its COSE key) and real assertions signed with ECDSA.
/// Tests bend single parts of an answer (no user verification, a stale counter, a bad signature) to see them refused.
/// </summary>
public sealed class SoftwareAuthenticator(string origin = "http://localhost", string rpId = "localhost")
{
    private const byte UserPresent = 0x01, UserVerified = 0x04, AttestedData = 0x40;

    /// <summary>A credential this authenticator holds.</summary>
    public sealed class Credential
    {
        public required byte[] Id { get; init; }
        public required ECDsa Key { get; init; }
        public required byte[] UserHandle { get; init; }
        public uint Counter { get; set; }

        public byte[] CosePublicKey => Cose(Key);
    }

    public static readonly Guid Aaguid = Guid.Parse("5f1b6c2e-8a0d-4c1e-9b57-0d3f2a6e9c41");

    /// <summary>Answers creation options (as the server sent them) with an attestation; the new credential is returned too.</summary>
    public (JsonObject Response, Credential Credential) Create(JsonElement options, bool userVerified = true, byte[]? credentialId = null)
    {
        Assert.Equal(rpId, options.GetProperty("rp").GetProperty("id").GetString());
        var credential = new Credential
        {
            Id = credentialId ?? RandomNumberGenerator.GetBytes(32),
            Key = ECDsa.Create(ECCurve.NamedCurves.nistP256),
            UserHandle = FromBase64Url(options.GetProperty("user").GetProperty("id").GetString()!),
        };
        var clientData = ClientData("webauthn.create", options.GetProperty("challenge").GetString()!);

        var authData = new List<byte>();
        authData.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(rpId)));
        authData.Add((byte)(UserPresent | (userVerified ? UserVerified : 0) | AttestedData));
        authData.AddRange(BigEndian(credential.Counter));
        authData.AddRange(Aaguid.ToByteArray(bigEndian: true));
        authData.Add((byte)(credential.Id.Length >> 8));
        authData.Add((byte)credential.Id.Length);
        authData.AddRange(credential.Id);
        authData.AddRange(credential.CosePublicKey);

        var cbor = new CborWriter(CborConformanceMode.Ctap2Canonical);
        cbor.WriteStartMap(3);
        cbor.WriteTextString("fmt");
        cbor.WriteTextString("none");
        cbor.WriteTextString("attStmt");
        cbor.WriteStartMap(0);
        cbor.WriteEndMap();
        cbor.WriteTextString("authData");
        cbor.WriteByteString([.. authData]);
        cbor.WriteEndMap();

        var response = new JsonObject
        {
            ["id"] = ToBase64Url(credential.Id),
            ["rawId"] = ToBase64Url(credential.Id),
            ["type"] = "public-key",
            ["clientExtensionResults"] = new JsonObject(),
            ["response"] = new JsonObject
            {
                ["attestationObject"] = ToBase64Url(cbor.Encode()),
                ["clientDataJSON"] = ToBase64Url(clientData),
                ["transports"] = new JsonArray("internal"),
            },
        };
        return (response, credential);
    }

    /// <summary>Answers request options with an assertion by <paramref name="credential"/>; the counter moves on by one unless given.</summary>
    public JsonObject Get(JsonElement options, Credential credential, uint? counter = null, bool userVerified = true, bool badSignature = false, string? originOverride = null)
    {
        credential.Counter = counter ?? credential.Counter + 1;
        var clientData = ClientData("webauthn.get", options.GetProperty("challenge").GetString()!, originOverride);
        var authData = new List<byte>();
        authData.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(rpId)));
        authData.Add((byte)(UserPresent | (userVerified ? UserVerified : 0)));
        authData.AddRange(BigEndian(credential.Counter));
        byte[] signed = [.. authData, .. SHA256.HashData(clientData)];
        var signature = credential.Key.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        if (badSignature)
        {
            // Signed by another key: well-formed, but not this credential's.
            using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            signature = other.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }

        return new JsonObject
        {
            ["id"] = ToBase64Url(credential.Id),
            ["rawId"] = ToBase64Url(credential.Id),
            ["type"] = "public-key",
            ["clientExtensionResults"] = new JsonObject(),
            ["response"] = new JsonObject
            {
                ["authenticatorData"] = ToBase64Url([.. authData]),
                ["clientDataJSON"] = ToBase64Url(clientData),
                ["signature"] = ToBase64Url(signature),
                ["userHandle"] = ToBase64Url(credential.UserHandle),
            },
        };
    }

    private byte[] ClientData(string type, string challenge, string? originOverride = null)
        => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["type"] = type, ["challenge"] = challenge, ["origin"] = originOverride ?? origin, ["crossOrigin"] = false });

    /// <summary>The public key as a COSE_Key (EC2, ES256, P-256), in CTAP2 canonical order.</summary>
    private static byte[] Cose(ECDsa key)
    {
        var p = key.ExportParameters(false);
        var cbor = new CborWriter(CborConformanceMode.Ctap2Canonical);
        cbor.WriteStartMap(5);
        cbor.WriteInt32(1);
        cbor.WriteInt32(2);
        cbor.WriteInt32(3);
        cbor.WriteInt32(-7);
        cbor.WriteInt32(-1);
        cbor.WriteInt32(1);
        cbor.WriteInt32(-2);
        cbor.WriteByteString(p.Q.X!);
        cbor.WriteInt32(-3);
        cbor.WriteByteString(p.Q.Y!);
        cbor.WriteEndMap();
        return cbor.Encode();
    }

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static string ToBase64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] FromBase64Url(string text)
    {
        var base64 = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(base64 + new string('=', (4 - base64.Length % 4) % 4));
    }
}
