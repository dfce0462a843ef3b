using System.Text.RegularExpressions;

namespace Tessera.Core.Webhooks;

/// <summary>
/// Which audit actions a webhook subscription receives. Each entry is an exact action (`user.disabled`), a
/// prefix ending in `.*` that matches every action below it (`user.*` matches `user.disabled` and
/// `user.mfa.reset`, not `users.x`), or `*` for every action. Matching ignores case; entries are kept in
/// lower case, without repeats, in the order given.
/// </summary>
public sealed partial class EventFilter
{
    public const int MaxEntries = 50;
    public const int MaxEntryLength = 100;

    private readonly string[] _exact;
    private readonly string[] _prefixes;
    private readonly bool _all;

    private EventFilter(IReadOnlyList<string> entries)
    {
        Entries = entries;
        _all = entries.Contains("*");
        _exact = [.. entries.Where(e => !e.EndsWith('*'))];
        _prefixes = [.. entries.Where(e => e.EndsWith(".*", StringComparison.Ordinal)).Select(e => e[..^1])];
    }

    public IReadOnlyList<string> Entries { get; }

    /// <summary>The filter, or the problems with it keyed by entry index (none when the entries are valid).</summary>
    public static (EventFilter? Filter, IReadOnlyList<(int Index, string Problem)> Problems) Parse(IReadOnlyList<string?>? entries)
    {
        var problems = new List<(int, string)>();
        if (entries is null || entries.Count == 0)
        {
            problems.Add((-1, "List at least one event type: an audit action such as user.disabled, a prefix such as user.*, or * for all."));
            return (null, problems);
        }

        if (entries.Count > MaxEntries)
        {
            problems.Add((-1, $"At most {MaxEntries} event types."));
            return (null, problems);
        }

        var kept = new List<string>();
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i]?.Trim().ToLowerInvariant();
            if (string.IsNullOrEmpty(entry))
            {
                problems.Add((i, "An event type may not be empty."));
            }
            else if (entry.Length > MaxEntryLength || !(entry == "*" || Pattern().IsMatch(entry)))
            {
                problems.Add((i, "An event type is an audit action (letters, digits and _ in dot-separated parts, such as user.disabled), such a prefix followed by .* (user.*), or *."));
            }
            else if (!kept.Contains(entry))
            {
                kept.Add(entry);
            }
        }

        return problems.Count == 0 ? (new EventFilter(kept), problems) : (null, problems);
    }

    /// <summary>The stored form: the entries joined by commas.</summary>
    public string Stored => string.Join(',', Entries);

    /// <summary>Reads the stored form back; an entry that no longer parses is dropped rather than matching anything.</summary>
    public static EventFilter FromStored(string stored)
        => Parse(stored.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Filter ?? new EventFilter([]);

    public bool Matches(string action)
    {
        if (_all)
        {
            return true;
        }

        foreach (var exact in _exact)
        {
            if (string.Equals(exact, action, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var prefix in _prefixes)
        {
            if (action.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$")]
    private static partial Regex Pattern();
}
