using System.Globalization;
using System.Text.Json;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.Http;

/// <summary>
/// The answer to a request that needs the database while it does not answer: 503 with Retry-After, in the
/// form the caller reads. OAuth clients of the token, introspection and revocation endpoints get an RFC 6749
/// error (`temporarily_unavailable`); a browser on a Back Office page gets a plain page; everyone else gets
/// problem details with the code `database_unavailable`.
/// </summary>
public sealed class DatabaseUnavailable : IResult
{
    public const string Code = "database_unavailable";
    private const string Detail = "The database does not answer; try again shortly.";

    public static readonly DatabaseUnavailable Result = new();

    private static readonly string RetryAfter = DatabaseFaults.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);

    private static readonly byte[] OAuthError = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
    {
        ["error"] = "temporarily_unavailable",
        ["error_description"] = "The authorization server cannot reach its database; try again shortly.",
    });

    private const string Page = """
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Tessera is unavailable</title></head>
        <body>
        <h1>Tessera is unavailable for a moment</h1>
        <p>Its database does not answer. Try again in a few seconds.</p>
        </body>
        </html>
        """;

    Task IResult.ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext);

    public static async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = RetryAfter;
        response.Headers.CacheControl = "no-store";
        if (TokenServer.AnswersWithOAuthErrors(context.Request.Path))
        {
            response.Headers.Pragma = "no-cache";
            response.ContentType = "application/json;charset=UTF-8";
            await response.Body.WriteAsync(OAuthError, context.RequestAborted);
        }
        else if (WantsPage(context.Request))
        {
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Page, context.RequestAborted);
        }
        else
        {
            await Problems.Of(StatusCodes.Status503ServiceUnavailable, Code, Detail).ExecuteAsync(context);
        }
    }

    /// <summary>A browser on a Back Office page: it asks for HTML, outside the API.</summary>
    private static bool WantsPage(HttpRequest request)
        => !request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
           && request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
}
