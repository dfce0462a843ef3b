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

    /// <summary>
    /// From this many matches on the term is common: walking users in username order (over the index that
    /// carries the search text, migration UsernameSearchWalk) finds a page sooner than sorting every match.
    /// </summary>
    public const int MaxCandidates = 2000;

    /// <summary>
    /// Users read through the index of (username, search text), for a common or short term in username order:
    /// the walk tests the term on index entries and reads a user row only for a match. SQLite's planner would
    /// otherwise walk the unique username index and read every row it passes; INDEXED BY survives the subquery
    /// flattening, and a username range (prefix filter or keyset cursor) still narrows the walk.
    /// </summary>
    public static IQueryable<User> UsersInUsernameOrder(TesseraDbContext db)
        => db.Users.FromSqlRaw("SELECT * FROM users INDEXED BY \"IX_users_NormalizedUsername_SearchText\"");

    /// <summary>
    /// The ids of every user whose SearchText may contain <paramref name="term"/>, as a subquery to compose
    /// (a superset: callers keep their exact predicate), or null when the index cannot narrow the search:
    /// not SQLite, a short term, or a common one. Costs one probe of the trigram index that reads at most
    /// <see cref="MaxCandidates"/> row ids.
    /// </summary>
    public static async Task<IQueryable<Guid>?> CandidatesAsync(TesseraDbContext db, string term, CancellationToken ct)
    {
        if (db.Provider != DatabaseProvider.Sqlite || term.EnumerateRunes().Count() < MinTermLength)
        {
            return null;
        }

        var phrase = "\"" + term.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var matches = await db.Database.SqlQuery<int>(
            $"SELECT count(*) AS \"Value\" FROM (SELECT rowid FROM users_search WHERE users_search MATCH {phrase} LIMIT {MaxCandidates})")
            .SingleAsync(ct);
        if (matches >= MaxCandidates)
        {
            return null;
        }

        // One statement with the page query: SQLite looks the few users up by id instead of receiving them as parameters.
        return db.Database.SqlQuery<Guid>(
            $"SELECT k.\"UserId\" AS \"Value\" FROM user_search_keys AS k WHERE k.\"RowId\" IN (SELECT rowid FROM users_search WHERE users_search MATCH {phrase})");
    }
}
