using Tessera.Core.Common;

namespace Tessera.Server.Http;

/// <summary>What the keyset-paged lists (users, customers, audit events, agent sessions) answer to bad list parameters.</summary>
public static class Paging
{
    /// <summary>The `cursor` is not one the listing handed out: garbled, for another sort, or holding values out of range.</summary>
    public const string InvalidCursor = "invalid_cursor";

    public const string CursorMessage = "The cursor is not one this listing handed out (with the same sort): start again without it.";

    /// <summary>
    /// One 400 naming every bad parameter: `invalid_cursor` when the cursor is among them (the one mistake a client
    /// makes by replaying an old or foreign cursor), else `validation_failed`.
    /// </summary>
    public static Failure Refuse(IReadOnlyDictionary<string, string[]> errors)
        => Failure.Invalid(errors.ContainsKey("cursor") ? InvalidCursor : "validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);
}
