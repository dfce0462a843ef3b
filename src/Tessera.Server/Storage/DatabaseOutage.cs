using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Tessera.Server.Storage;

/// <summary>Which failures mean "the database does not answer" rather than "this request went wrong".</summary>
public static class DatabaseFaults
{
    /// <summary>The Retry-After of every answer given while the database does not answer.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// True when the exception, or one it wraps, says the database cannot be reached or cannot serve now:
    /// refused or broken connections, timeouts and exhausted pools (Npgsql's own exceptions, which never
    /// carry a server's verdict on a statement), and the server states that mean the same: class 08
    /// (connection exception), 57P01-57P03 (shutting down, crashed, starting up), class 53 (out of
    /// connections, memory or disk) and 3D000 (the database is gone). A statement the server refused
    /// (a constraint, a syntax error, a serialization failure) is not an outage.
    /// </summary>
    public static bool IsUnavailable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    return pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                           || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
                           || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                               or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.InvalidCatalogName;
                case NpgsqlException:
                    return true;
                case SqliteException sqlite:
                    return sqlite.SqliteErrorCode == 14; // SQLITE_CANTOPEN: the file or its folder is gone or unreadable.
            }
        }

        return false;
    }

    /// <summary>One line for the log: what the driver said, without a stack trace.</summary>
    public static string Describe(Exception exception)
    {
        var e = exception;
        while (e.InnerException is not null && e is not DbException)
        {
            e = e.InnerException;
        }

        var text = e is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : e.Message;
        if (e is not PostgresException && e.InnerException is { } cause)
        {
            text += $" ({cause.Message})";
        }

        return string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries));
    }
}

/// <summary>
/// Whether the database answers, as the service last saw it. An outage is logged twice: one warning when
/// the first operation fails because the database does not answer, one when an operation succeeds again,
/// instead of an error with a stack trace for every request in between.
/// </summary>
/// <remarks>
/// Operations overlap an outage's edges: a query sent just before the server went away fails after a
/// later one has already succeeded on a fresh connection, and the other way round. Each report therefore
/// carries the time its operation began, and a report about an operation that began before the last
/// change of state is old news. EF Core stamps its operations with the system clock, so this compares
/// with the system clock too (not the injectable <see cref="TimeProvider"/>, which tests move).
/// </remarks>
public sealed class DatabaseOutage(ILogger<DatabaseOutage> logger)
{
    private readonly Lock _lock = new();
    private volatile bool _down;
    private DateTimeOffset _changedAt = DateTimeOffset.MinValue;

    /// <summary>True from the first failure of an outage until the first success after it.</summary>
    public bool IsDown => _down;

    /// <summary>An operation that began at <paramref name="startedAt"/> failed with <paramref name="exception"/>, which means the database does not answer.</summary>
    public void Failed(Exception exception, DateTimeOffset startedAt)
    {
        if (_down)
        {
            return;
        }

        lock (_lock)
        {
            if (_down || startedAt < _changedAt)
            {
                return;
            }

            _down = true;
            _changedAt = DateTimeOffset.UtcNow;
        }

        logger.LogWarning("The database does not answer ({Error}); requests that need it are answered 503 with Retry-After until it does.", DatabaseFaults.Describe(exception));
    }

    /// <summary>An operation that began at <paramref name="startedAt"/> got an answer from the database.</summary>
    public void Answered(DateTimeOffset startedAt)
    {
        if (!_down)
        {
            return;
        }

        TimeSpan lasted;
        lock (_lock)
        {
            if (!_down || startedAt < _changedAt)
            {
                return;
            }

            var now = DateTimeOffset.UtcNow;
            lasted = now - _changedAt;
            _down = false;
            _changedAt = now;
        }

        logger.LogWarning("The database answers again, after {Seconds:0.0} s without it.", lasted.TotalSeconds);
    }
}

/// <summary>
/// Feeds <see cref="DatabaseOutage"/> from every connection and command of EF Core, in the background services
/// as in requests. When the database stops answering, the connection pool is emptied: its idle connections
/// belong to a server that is gone, and each would otherwise fail one more request after the database is back.
/// </summary>
internal sealed class DatabaseOutageInterceptor(DatabaseOutage outage, Action? clearPool) : IDbConnectionInterceptor, IDbCommandInterceptor
{
    public void ConnectionFailed(DbConnection connection, ConnectionErrorEventData eventData) => Failed(eventData.Exception, eventData.StartTime);

    public Task ConnectionFailedAsync(DbConnection connection, ConnectionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Exception, eventData.StartTime);
        return Task.CompletedTask;
    }

    public void CommandFailed(DbCommand command, CommandErrorEventData eventData) => Failed(eventData.Exception, eventData.StartTime);

    public Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Exception, eventData.StartTime);
        return Task.CompletedTask;
    }

    public DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
    {
        outage.Answered(eventData.StartTime);
        return result;
    }

    public ValueTask<DbDataReader> ReaderExecutedAsync(DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        outage.Answered(eventData.StartTime);
        return new(result);
    }

    public int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        outage.Answered(eventData.StartTime);
        return result;
    }

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        outage.Answered(eventData.StartTime);
        return new(result);
    }

    public object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        outage.Answered(eventData.StartTime);
        return result;
    }

    public ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        outage.Answered(eventData.StartTime);
        return new(result);
    }

    private void Failed(Exception exception, DateTimeOffset startedAt)
    {
        if (DatabaseFaults.IsUnavailable(exception))
        {
            clearPool?.Invoke();
            outage.Failed(exception, startedAt);
        }
    }
}
