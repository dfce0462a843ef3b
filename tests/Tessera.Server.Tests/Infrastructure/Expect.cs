using System.Net;
using System.Text.Json;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// Asserts on an API response and, when it is not what was expected, fails with what was seen:
/// the request, the status and the whole body.
/// </summary>
public static class Expect
{
    /// <summary>Expects <paramref name="status"/>; returns the JSON body (default when empty or not JSON, a page say).</summary>
    public static async Task<JsonElement> ResponseAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{Describe(response)}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return Parse(response, body);
    }

    /// <summary>Expects an application/problem+json answer with <paramref name="status"/>, <paramref name="code"/> and a detail.</summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        var seen = $"{Describe(response)}: got {(int)response.StatusCode}: {body}";
        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}; {seen}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"expected application/problem+json; {seen}");
        var json = Parse(response, body);
        Assert.True(json.ValueKind == JsonValueKind.Object && json.TryGetProperty("code", out var actual) && actual.GetString() == code, $"expected code {code}; {seen}");
        Assert.True(json.TryGetProperty("detail", out var detail) && !string.IsNullOrWhiteSpace(detail.GetString()), $"expected a detail; {seen}");
        return json;
    }

    private static JsonElement Parse(HttpResponseMessage response, string body)
    {
        var media = response.Content.Headers.ContentType?.MediaType;
        if (body.Length == 0 || media is null || !(media == "application/json" || media.EndsWith("+json", StringComparison.Ordinal)))
        {
            return default;
        }

        try
        {
            return JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"{Describe(response)}: {(int)response.StatusCode} with a body that is not JSON: {body}");
            throw;
        }
    }

    private static string Describe(HttpResponseMessage response)
        => response.RequestMessage is { } request ? $"{request.Method} {request.RequestUri?.PathAndQuery}" : "response";
}
