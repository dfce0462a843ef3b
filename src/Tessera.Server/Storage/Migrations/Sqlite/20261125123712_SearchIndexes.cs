using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Sqlite
{
    /// <summary>
    /// Substring search (`q`) over many users: an FTS5 trigram index of users.SearchText, kept in step by
    /// triggers. FTS rows are keyed by user_search_keys.RowId, an explicit integer key, because VACUUM may
    /// renumber the implicit rowid of users. A later migration that rebuilds the users table (SQLite's
    /// way of altering columns) drops these triggers with the old table and must create them again.
    /// </summary>
    public partial class SearchIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("CREATE TABLE user_search_keys (\"RowId\" INTEGER PRIMARY KEY, \"UserId\" TEXT NOT NULL UNIQUE);");

            // SearchText is upper-cased already: case-sensitive trigrams match exactly what instr() matches.
            migrationBuilder.Sql("CREATE VIRTUAL TABLE users_search USING fts5(\"SearchText\", tokenize = 'trigram case_sensitive 1');");
            migrationBuilder.Sql("INSERT INTO user_search_keys (\"UserId\") SELECT \"Id\" FROM users;");
            migrationBuilder.Sql("INSERT INTO users_search (rowid, \"SearchText\") SELECT k.\"RowId\", u.\"SearchText\" FROM user_search_keys k JOIN users u ON u.\"Id\" = k.\"UserId\";");
            migrationBuilder.Sql("""
                CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
                  INSERT INTO user_search_keys ("UserId") VALUES (new."Id");
                  INSERT INTO users_search (rowid, "SearchText") SELECT "RowId", new."SearchText" FROM user_search_keys WHERE "UserId" = new."Id";
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER users_search_update AFTER UPDATE OF "SearchText" ON users BEGIN
                  DELETE FROM users_search WHERE rowid = (SELECT "RowId" FROM user_search_keys WHERE "UserId" = old."Id");
                  INSERT INTO users_search (rowid, "SearchText") SELECT "RowId", new."SearchText" FROM user_search_keys WHERE "UserId" = new."Id";
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
                  DELETE FROM users_search WHERE rowid = (SELECT "RowId" FROM user_search_keys WHERE "UserId" = old."Id");
                  DELETE FROM user_search_keys WHERE "UserId" = old."Id";
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS users_search_delete;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS users_search_update;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS users_search_insert;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS users_search;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS user_search_keys;");
        }
    }
}
