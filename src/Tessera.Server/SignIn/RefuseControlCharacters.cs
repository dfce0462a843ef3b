using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using Tessera.Server.Http;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Server.SignIn;

/// <summary>
/// The OAuth endpoints' side of <see cref="StrictRequests"/>: a control character in any parameter name or value
/// (client_id and client_secret from the Basic header included, which OpenIddict has extracted by now) is an
/// `invalid_request` in OAuth's format, before any validator looks the client up. No OAuth parameter is free
/// text that spans lines.
/// </summary>
public sealed class RefuseControlCharacters<TContext> : IOpenIddictServerHandler<TContext>
    where TContext : OpenIddictServerEvents.BaseValidatingContext
{
    /// <summary>
    /// Before every validator: ahead of Tessera's token exchange (<see cref="AgentAssist.TokenExchange.Order"/>), which
    /// itself runs ahead of OpenIddict's first (ValidateGrantType, ValidateTokenParameter and their kind).
    /// </summary>
    public const int Order = AgentAssist.TokenExchange.Order - 10_000;

    public ValueTask HandleAsync(TContext context)
    {
        if (context.Transaction.Request is not { } request)
        {
            return default;
        }

        foreach (var (name, parameter) in request.GetParameters())
        {
            if (StrictRequests.HasControlCharacter(name))
            {
                context.Reject(Errors.InvalidRequest, "A parameter name contains control characters.");
                return default;
            }

            // Form and query parameters are text (or repeated text); anything else is checked in its JSON form.
            string?[] values = parameter.GetRawValue() switch
            {
                string text => [text],
                Microsoft.Extensions.Primitives.StringValues texts => texts.ToArray(),
                System.Collections.Immutable.ImmutableArray<string?> texts => [.. texts],
                string?[] texts => texts,
                _ => [parameter.ToString()],
            };
            if (values.Any(v => v is not null && StrictRequests.HasControlCharacter(v)))
            {
                // The name is clean (checked above) but may still hold characters an error_description must not.
                context.Reject(Errors.InvalidRequest, name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')
                    ? $"The {name} parameter must not contain control characters."
                    : "A parameter value contains control characters.");
                return default;
            }
        }

        return default;
    }
}

/// <summary>
/// The form of an OAuth request read before OpenIddict reads it. ASP.NET Core's form reader throws on some control
/// characters (NUL), which inside OpenIddict's extraction would be a 500; here it is an `invalid_request` that
/// names the field. A form read here is kept, so OpenIddict's extraction reads it from memory.
/// </summary>
public sealed class ReadFormStrictly<TContext> : IOpenIddictServerHandler<TContext>
    where TContext : OpenIddictServerEvents.BaseValidatingContext
{
    public async ValueTask HandleAsync(TContext context)
    {
        var request = context.Transaction.GetHttpRequest();
        if (request is null || !HttpMethods.IsPost(request.Method) || await StrictRequests.CheckFormAsync(request) is not { } failure)
        {
            return;
        }

        var fields = failure.Errors?.Keys.Where(k => k.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')).ToList() ?? [];
        context.Reject(Errors.InvalidRequest, fields.Count > 0
            ? $"The {string.Join(", ", fields)} parameter{(fields.Count == 1 ? "" : "s")} must not contain control characters."
            : "The form could not be read: it holds characters that are not allowed.");
    }
}
