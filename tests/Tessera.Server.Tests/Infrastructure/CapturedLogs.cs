using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Tessera.Server.Tests.Infrastructure;

/// <summary>
/// A logger provider that keeps everything any sink could write: the formatted message, every structured
/// value of the state, the exception and the values of every scope. <see cref="Everything"/> turns it on for
/// all categories at Trace, whatever the configuration says (a provider's own filter rule beats the
/// category rules of appsettings.json).
/// </summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> _entries = new();
    private IExternalScopeProvider? _scopes;

    /// <summary>Adds this provider to a host's logging at the most verbose level, for every category.</summary>
    public void Everything(ILoggingBuilder logging)
    {
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddProvider(this);
        logging.AddFilter<CapturedLogs>(null, LogLevel.Trace);
    }

    public int Count => _entries.Count;

    public string Text => string.Join('\n', _entries);

    /// <summary>The captured entries that contain <paramref name="value"/>, for a failure message.</summary>
    public IEnumerable<string> EntriesWith(string value) => _entries.Where(e => e.Contains(value, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = new StringBuilder();
            line.Append(CultureInfo.InvariantCulture, $"{logLevel} {category}[{eventId.Id}:{eventId.Name}] {formatter(state, exception)}");
            AppendValues(line, state);
            owner._scopes?.ForEachScope((scope, text) =>
            {
                text.Append(" => ").Append(scope);
                AppendValues(text, scope);
            }, line);
            if (exception is not null)
            {
                line.Append('\n').Append(exception);
            }

            owner._entries.Enqueue(line.ToString());
        }

        private static void AppendValues(StringBuilder line, object? state)
        {
            if (state is not IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                return;
            }

            foreach (var (key, value) in pairs)
            {
                line.Append(" | ").Append(key).Append('=');
                if (value is IEnumerable many and not string)
                {
                    foreach (var item in many)
                    {
                        line.Append(item).Append(',');
                    }
                }
                else
                {
                    line.Append(value);
                }
            }
        }
    }
}
