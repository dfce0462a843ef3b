using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Postgres
{
    /// <summary>
    /// Prefix filters (`LIKE 'X%'`) on the normalized columns: the existing B-tree indexes follow the
    /// database collation, which serves LIKE only under "C"; pattern-ops indexes serve it under any.
    /// </summary>
    public partial class SearchIndexes : Migration
    {
        private static readonly string[] PrefixColumns = ["NormalizedUsername", "NormalizedFirstName", "NormalizedLastName", "NormalizedEmail"];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            foreach (var column in PrefixColumns)
            {
                migrationBuilder.Sql($"CREATE INDEX IF NOT EXISTS \"IX_users_{column}_prefix\" ON users (\"{column}\" text_pattern_ops);");
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var column in PrefixColumns)
            {
                migrationBuilder.Sql($"DROP INDEX IF EXISTS \"IX_users_{column}_prefix\";");
            }
        }
    }
}
