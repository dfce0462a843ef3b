namespace Tessera.Server.Storage;

/// <summary>
/// Lets a housekeeping step (deleting expired rows, say) run at most once per interval in this instance: the first
/// caller past the due time runs it, concurrent callers skip it, and nobody waits.
/// </summary>
public sealed class OncePer(TimeSpan interval)
{
    private long _nextTicks;

    /// <summary>True for exactly one caller once the interval has passed; that caller does the step.</summary>
    public bool IsDue(DateTime now)
    {
        var next = Interlocked.Read(ref _nextTicks);
        return now.Ticks >= next && Interlocked.CompareExchange(ref _nextTicks, now.Add(interval).Ticks, next) == next;
    }
}
