namespace Tessera.Core.Common;

/// <summary>
/// When a "last used" time (a user's last sign-in, a credential's last use) is written: at most once a minute, so that
/// a busy client does not update its row on every request. A stored time ahead of now (a clock set back) is rewritten.
/// </summary>
public static class UseStamp
{
    public static readonly TimeSpan Granularity = TimeSpan.FromMinutes(1);

    /// <summary>Whether a use at <paramref name="now"/> should be written, given the time stored.</summary>
    public static bool IsDue(DateTime? stored, DateTime now)
        => stored is not { } last || last > now || now - last >= Granularity;
}
