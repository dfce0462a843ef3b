using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Tessera.Server.Http;

/// <summary>
/// No log line, at any level, holds a token, a code, a client secret or a password, whoever writes it and
/// whichever sink receives it. The secrets reach log calls in libraries Tessera does not own: ASP.NET Core's
/// hosting writes every request's URL with its query (a set-password link's <c>?token=</c>, an
/// <c>?access_token=</c> someone tried), Razor Pages at Trace writes the arguments of page handlers (the
/// sign-in password, a link token), OpenIddict at Trace writes whole tokens and at Information the request
/// parameters it does not redact itself (<c>code_verifier</c>), the OpenID Connect handler at Trace the SSO
/// callback's URL with its code. So the one <see cref="ILoggerFactory"/> of the host wraps every logger:
/// an entry that is enabled is formatted once, and when it holds something secret-shaped the sinks get a
/// redacted copy (message, structured values and exception text) instead of the original.
/// </summary>
/// <remarks>
/// Secret-shaped means: the value of a query, form or JSON parameter with a secret's name; the credentials
/// after <c>Bearer</c> or <c>Basic</c>; a JSON Web Token (signed or encrypted, which is what OpenIddict's
/// access tokens and authorization codes are); and the structured value named <c>Arguments</c>, which MVC
/// fills with handler arguments. Scopes are passed through: the framework's hold the path, never the query.
/// The check costs one formatting of entries that some sink has enabled; with the shipped levels that is
/// a few lines per request.
/// </remarks>
public static partial class LogRedaction
{
    public const string Redacted = "[redacted]";

    /// <summary>Structured values that are never logged, whatever they hold.</summary>
    private static readonly HashSet<string> SecretValues = new(StringComparer.Ordinal) { "Arguments" };

    /// <summary>Makes the host's logger factory redact every logger it hands out (call after the logging setup).</summary>
    public static IServiceCollection AddTesseraLogRedaction(this IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp => new RedactingLoggerFactory(new LoggerFactory(
            sp.GetServices<ILoggerProvider>(),
            sp.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            sp.GetService<IOptions<LoggerFactoryOptions>>(),
            sp.GetService<IExternalScopeProvider>()))));
        return services;
    }

    /// <summary>The text with every secret-shaped part replaced by <see cref="Redacted"/>; the same instance when there is none.</summary>
    public static string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        var redacted = Parameter().Replace(text, m => m.Groups["name"].Value + Redacted);
        redacted = JsonMember().Replace(redacted, m => m.Groups["name"].Value + "\"" + Redacted + "\"");
        redacted = Credentials().Replace(redacted, m => m.Groups["scheme"].Value + " " + Redacted);
        redacted = Jwt().Replace(redacted, Redacted);
        return string.Equals(redacted, text, StringComparison.Ordinal) ? text : redacted;
    }

    /// <summary>A query or form parameter (also URL-encoded inside another URL) whose name says it is secret.</summary>
    [GeneratedRegex(@"(?<name>(?:[?&;]|%3F|%26)(?:access_token|refresh_token|id_token|id_token_hint|token|code|code_verifier|client_secret|client_assertion|assertion|subject_token|actor_token|agent_token|password|new_?password|confirm_?password|current_?password)(?:=|%3D))[^&\s#""'<>]*",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Parameter();

    /// <summary>A JSON member with such a name and a string value.</summary>
    [GeneratedRegex(@"(?<name>""(?:access_token|refresh_token|id_token|id_token_hint|token|code|code_verifier|client_secret|client_assertion|assertion|subject_token|actor_token|agent_token|password|newPassword|confirmPassword|currentPassword)""\s*:\s*)""(?:[^""\\]|\\.)*""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex JsonMember();

    /// <summary>
    /// The credentials of an Authorization header. At least 16 characters, and a scheme that is a word of its own:
    /// a scheme's name such as <c>Tessera.Bearer</c> followed by a short word is no credential.
    /// </summary>
    [GeneratedRegex(@"(?<![\w.])(?<scheme>Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{16,}=*", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Credentials();

    /// <summary>A compact JWS (3 parts) or JWE (5 parts, some possibly empty): its header is base64url JSON.</summary>
    [GeneratedRegex(@"eyJ[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*){2,4}", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();

    /// <summary>A placeholder of a message template: <c>{Name}</c> or <c>{Name:format}</c>.</summary>
    [GeneratedRegex(@"\{(?<name>[^{}:]+)(?::[^{}]*)?\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();

    private sealed class RedactingLoggerFactory(LoggerFactory inner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName));

        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        public void Dispose() => inner.Dispose();
    }

    private sealed class RedactingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            var values = state as IReadOnlyList<KeyValuePair<string, object?>>;
            var hidden = values is not null && values.Any(v => SecretValues.Contains(v.Key));
            var message = formatter(state, exception);
            var redacted = hidden && Template(values!) is { } template ? Redact(Render(template, values!)) : Redact(message);
            var shown = exception is null ? null : RedactedException.Of(exception);
            if (!hidden && ReferenceEquals(redacted, message) && ReferenceEquals(shown, exception))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
                return;
            }

            inner.Log(logLevel, eventId, new RedactedState(values?.Select(RedactValue).ToList() ?? [], redacted), shown, static (s, _) => s.Message);
        }

        private static string? Template(IReadOnlyList<KeyValuePair<string, object?>> values)
            => values.FirstOrDefault(v => v.Key == "{OriginalFormat}").Value as string;

        /// <summary>The message again from its template, with the redacted values.</summary>
        private static string Render(string template, IReadOnlyList<KeyValuePair<string, object?>> values)
            => Placeholder().Replace(template, m =>
            {
                var name = m.Groups["name"].Value;
                var pair = values.FirstOrDefault(v => v.Key == name);
                return pair.Key is null ? m.Value : Text(RedactValue(pair).Value);
            });

        private static KeyValuePair<string, object?> RedactValue(KeyValuePair<string, object?> pair)
        {
            if (SecretValues.Contains(pair.Key))
            {
                return new(pair.Key, LogRedaction.Redacted);
            }

            if (pair.Key == "{OriginalFormat}" || pair.Value is null or bool or int or long or double or decimal or Guid or DateTime or DateTimeOffset or TimeSpan or Enum)
            {
                return pair;
            }

            var text = Text(pair.Value);
            var redacted = Redact(text);
            return ReferenceEquals(redacted, text) ? pair : new(pair.Key, redacted);
        }

        private static string Text(object? value) => value switch
        {
            null => "(null)",
            string s => s,
            System.Collections.IEnumerable many => string.Join(", ", many.Cast<object?>()),
            _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        };
    }

    /// <summary>The state of a redacted entry: its structured values, redacted, and its message.</summary>
    private sealed class RedactedState(IReadOnlyList<KeyValuePair<string, object?>> values, string message) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public string Message => message;

        public KeyValuePair<string, object?> this[int index] => values[index];

        public int Count => values.Count;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => values.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => message;
    }

    /// <summary>Stands in for an exception whose text holds a secret: sinks print its redacted text.</summary>
    private sealed class RedactedException : Exception
    {
        private readonly string _text;

        private RedactedException(Exception original, string text)
            : base(Redact(original.Message))
        {
            _text = text;
            HResult = original.HResult;
        }

        public static Exception Of(Exception exception)
        {
            var text = exception.ToString();
            var redacted = Redact(text);
            return ReferenceEquals(redacted, text) ? exception : new RedactedException(exception, redacted);
        }

        public override string ToString() => _text;
    }
}
