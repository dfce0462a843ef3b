using Microsoft.EntityFrameworkCore;

namespace Tessera.Server.Storage;

/// <summary>
/// The provider side of the substring search (`q`). PostgreSQL's planner uses its trigram index for
/// SearchText LIKE '%term%' by itself; SQLite needs its FTS5 trigram table (migration SearchIndexes)
/// asked explicitly, which this does.
/// </summary>
public static class SearchTextIndex
{
    /// <summary>The trigram tokenizer matches nothing for shorter terms: those scan.</summary>
    public const int MinTermLength = 3;

    /// <summary>Beyond this many matches the term is common, and walking the sort index finds a page sooner.</summary>
    public const int MaxCandidates = 2000;

    /// <summary>
    /// Every user whose SearchText may contain <paramref name="term"/> (a superset: callers keep their exact
    /// predicate), or null when the index cannot narrow the search: not SQLite, a short term, or a common one.
    /// </summary>
    public static async Task<List<Guid>?> CandidatesAsync(TesseraDbContext db, string term, CancellationToken ct)
    {
        if (db.Provider != DatabaseProvider.Sqlite || term.EnumerateRunes().Count() < MinTermLength)
        {
            return null;
        }

        var phrase = "\"" + term.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var ids = await db.Database.SqlQuery<Guid>(
            $"SELECT \"UserId\" AS \"Value\" FROM user_search_keys WHERE \"RowId\" IN (SELECT rowid FROM users_search WHERE users_search MATCH {phrase} LIMIT {MaxCandidates})")
            .ToListAsync(ct);
        return ids.Count < MaxCandidates ? ids : null;
    }
}
