using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Tessera.Core.Common;
using Tessera.Server.Storage;

namespace Tessera.Server.Http;

/// <summary>The one place where failures become RFC 9457 problem details with a stable `code`.</summary>
public static class Problems
{
    public static IResult From(Failure failure)
    {
        if (failure.Kind == FailureKind.Deferred)
        {
            return Deferred(failure);
        }

        var extensions = new Dictionary<string, object?> { ["code"] = failure.Code };
        if (failure.Errors is not null)
        {
            extensions["errors"] = failure.Errors;
        }

        if (failure.Violations is not null)
        {
            // A too_weak violation adds what makes the password weak and what to do instead, as the set-password pages show them.
            extensions["violations"] = failure.Violations
                .Select(v => v.Suggestions is null && v.Warning is null
                    ? (object)new { code = v.Code, message = v.Message }
                    : new { code = v.Code, message = v.Message, warning = v.Warning, suggestions = v.Suggestions ?? [] })
                .ToList();
        }

        foreach (var (key, value) in failure.Extensions ?? new Dictionary<string, object?>())
        {
            extensions.TryAdd(key, value);
        }

        return Results.Problem(detail: failure.Detail, statusCode: Status(failure.Kind), title: Title(failure.Kind), extensions: extensions);
    }

    /// <summary>
    /// A change sent for four-eyes approval is no failure of the caller's: 202 Accepted with the change request as the
    /// body and its address in <c>Location</c>, whichever endpoint made the change.
    /// </summary>
    private static IResult Deferred(Failure failure)
    {
        var id = failure.Extensions?.GetValueOrDefault("changeRequestId");
        return Results.Accepted($"/api/v1/change-requests/{id}", failure.Extensions?.GetValueOrDefault("changeRequest"));
    }

    public static IResult Of(int status, string code, string detail)
        => Results.Problem(detail: detail, statusCode: status, extensions: new Dictionary<string, object?> { ["code"] = code });

    public static int Status(FailureKind kind) => kind switch
    {
        FailureKind.Invalid => StatusCodes.Status400BadRequest,
        FailureKind.NotFound => StatusCodes.Status404NotFound,
        FailureKind.Conflict => StatusCodes.Status409Conflict,
        FailureKind.Forbidden => StatusCodes.Status403Forbidden,
        FailureKind.Unauthorized => StatusCodes.Status401Unauthorized,
        FailureKind.TooManyRequests => StatusCodes.Status429TooManyRequests,
        FailureKind.Deferred => StatusCodes.Status202Accepted,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static string Title(FailureKind kind) => kind switch
    {
        FailureKind.Invalid => "The request is not valid.",
        FailureKind.NotFound => "Not found.",
        FailureKind.Conflict => "The request conflicts with the current state.",
        FailureKind.Forbidden => "Forbidden.",
        FailureKind.Unauthorized => "Authentication is required.",
        FailureKind.TooManyRequests => "Too many requests.",
        _ => "Error.",
    };

    /// <summary>The code for a status that the framework produced without one (no route, no token, ...).</summary>
    public static string CodeFor(int status) => status switch
    {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        415 => "unsupported_media_type",
        429 => "too_many_requests",
        503 => "unavailable",
        _ => status >= 500 ? "internal_error" : "error",
    };

    public static IServiceCollection AddTesseraProblems(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
            ctx.ProblemDetails.Extensions.TryAdd("code", CodeFor(status));
            ctx.ProblemDetails.Detail ??= status switch
            {
                400 => "The request could not be read.",
                401 => "A valid access token or session is required.",
                403 => "You do not hold the privilege this needs.",
                404 => $"Nothing is found at {ctx.HttpContext.Request.Path}.",
                405 => $"{ctx.HttpContext.Request.Method} is not allowed on {ctx.HttpContext.Request.Path}.",
                415 => $"The body's type ({ctx.HttpContext.Request.ContentType}) is not one this endpoint reads: send application/json.",
                _ => null,
            };
        });
        services.AddExceptionHandler<ClientErrorExceptionHandler>();

        // Unreadable bodies and parameters reach the handler above, which says what was wrong.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }
}

/// <summary>
/// Turns malformed requests into 400 problems and a database that does not answer into 503 with Retry-After
/// (<see cref="DatabaseUnavailable"/>); anything else is a 500 that reveals nothing.
/// </summary>
internal sealed class ClientErrorExceptionHandler(IProblemDetailsService problems, DatabaseOutage outage, ILogger<ClientErrorExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (DatabaseFaults.IsUnavailable(exception))
        {
            // Not logged here: the outage is logged once when it begins and once when it ends. EF Core has usually
            // reported it already; this covers a failure that did not pass through EF Core. The request's start
            // tells a failure that belongs to an outage already over from one that begins a new one.
            var began = httpContext.Features.Get<IHttpActivityFeature>()?.Activity.StartTimeUtc is { } start
                ? new DateTimeOffset(start, TimeSpan.Zero)
                : DateTimeOffset.MinValue;
            outage.Failed(exception, began);
            await DatabaseUnavailable.WriteAsync(httpContext);
            return true;
        }

        ProblemDetails problem;
        if (exception is BadHttpRequestException bad)
        {
            httpContext.Response.StatusCode = bad.StatusCode;
            problem = new ProblemDetails { Status = bad.StatusCode, Title = "The request is not valid.", Detail = bad.Message };
            problem.Extensions["code"] = bad.StatusCode == 400 ? "invalid_request" : Problems.CodeFor(bad.StatusCode);
            if (bad.InnerException is System.Text.Json.JsonException json)
            {
                Describe(problem, json);
            }
        }
        else
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            httpContext.Response.StatusCode = 500;
            problem = new ProblemDetails { Status = 500, Title = "An unexpected error occurred.", Detail = "The error was logged; try again later." };
            problem.Extensions["code"] = "internal_error";
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>
    /// A body the serializer refused after <see cref="StrictRequests"/> let it through: not JSON, or a value of the
    /// wrong type. The problem names the place (its path in the body, as an `errors` key) without the serializer's
    /// message, which names .NET types. Unknown and repeated members, refused by the serializer's options too, keep
    /// their own codes.
    /// </summary>
    private static void Describe(ProblemDetails problem, System.Text.Json.JsonException json)
    {
        var field = json.Path is { Length: > 1 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : json.Path is { Length: > 1 } other ? other.TrimStart('$') : null;
        var where = json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})" : "";
        var (code, message) = json.Message switch
        {
            var m when m.Contains("could not be mapped to any .NET member", StringComparison.Ordinal) => ("unknown_field", "is not a member of this request."),
            var m when m.StartsWith("Duplicate", StringComparison.Ordinal) => ("duplicate_field", "is given more than once."),
            var m when m.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) => ("invalid_request", "has the wrong type for this member."),
            _ => ("invalid_request", "is not valid JSON here."),
        };
        problem.Extensions["code"] = code;
        if (field is null)
        {
            problem.Detail = $"The request body is not valid JSON for this endpoint{where}.";
            return;
        }

        problem.Detail = $"The request body is not valid for this endpoint: '{field}' {message}{(code == "invalid_request" ? where : "")}";
        problem.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [message] };
    }
}
