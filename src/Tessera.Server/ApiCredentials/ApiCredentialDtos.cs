using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Core.Credentials;
using Tessera.Server.Storage;

namespace Tessera.Server.ApiCredentials;

/// <summary>A new credential: <c>type</c> "secret" (the server generates it) or "public_key" (a JWK, or a PEM in <c>pem</c> or <c>jwk</c>).</summary>
public sealed record CreateApiCredentialRequest([Required] string? Name, [Required] string? Type, DateTimeOffset? ExpiresAt, JsonElement? Jwk, string? Pem);

/// <summary>A credential as listed: never its secret.</summary>
public record ApiCredentialResponse(
    Guid Id,
    string Name,
    string Type,
    DateTime CreatedAt,
    string? CreatedBy,
    DateTime? ExpiresAt,
    DateTime? LastUsedAt,
    bool Expired,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Thumbprint,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyType,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Jwk)
{
    /// <summary>A generated secret, in the answer that creates it and nowhere else, ever.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }

    public static ApiCredentialResponse From(ApiCredential c, DateTime now) => new(
        c.Id, c.Name, c.Type.ToWire(), c.CreatedAt, c.CreatedBy, c.ExpiresAt, c.LastUsedAt, ApiCredentialRules.IsExpired(c.ExpiresAt, now),
        c.Thumbprint, c.KeyType, c.PublicKeyJwk is null ? null : JsonDocument.Parse(c.PublicKeyJwk).RootElement.Clone());
}

/// <summary>The list answer: <c>{"items":[…]}</c>.</summary>
public sealed record ApiCredentialList(IReadOnlyList<ApiCredentialResponse> Items);
