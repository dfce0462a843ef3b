using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Postgres
{
    /// <summary>
    /// The normalized keys of users compare byte by byte (collation "C"), as on SQLite: their plain B-tree indexes
    /// then serve prefix filters and the sort together, which makes the text_pattern_ops indexes of SearchIndexes
    /// redundant. The (name, username) indexes carry the id, so a page of a name prefix is chosen from the index.
    /// </summary>
    public partial class NormalizedKeysInByteOrder : Migration
    {
        private static readonly string[] PrefixColumns = ["NormalizedUsername", "NormalizedFirstName", "NormalizedLastName", "NormalizedEmail"];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            foreach (var column in PrefixColumns)
            {
                migrationBuilder.Sql($"DROP INDEX IF EXISTS \"IX_users_{column}_prefix\";");
            }

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedEmail_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedFirstName_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedLastName_NormalizedUsername",
                table: "users");

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedUsername",
                table: "users",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(64)",
                oldMaxLength: 64);

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedLastName",
                table: "users",
                type: "character varying(100)",
                maxLength: 100,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(100)",
                oldMaxLength: 100);

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedFirstName",
                table: "users",
                type: "character varying(100)",
                maxLength: 100,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(100)",
                oldMaxLength: 100);

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedEmail",
                table: "users",
                type: "character varying(254)",
                maxLength: 254,
                nullable: false,
                collation: "C",
                oldClrType: typeof(string),
                oldType: "character varying(254)",
                oldMaxLength: 254);

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedEmail_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedEmail", "NormalizedUsername" })
                .Annotation("Npgsql:IndexInclude", new[] { "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedFirstName_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedFirstName", "NormalizedUsername" })
                .Annotation("Npgsql:IndexInclude", new[] { "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedLastName_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedLastName", "NormalizedUsername" })
                .Annotation("Npgsql:IndexInclude", new[] { "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedEmail_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedFirstName_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedLastName_NormalizedUsername",
                table: "users");

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedUsername",
                table: "users",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(64)",
                oldMaxLength: 64,
                oldCollation: "C");

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedLastName",
                table: "users",
                type: "character varying(100)",
                maxLength: 100,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(100)",
                oldMaxLength: 100,
                oldCollation: "C");

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedFirstName",
                table: "users",
                type: "character varying(100)",
                maxLength: 100,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(100)",
                oldMaxLength: 100,
                oldCollation: "C");

            migrationBuilder.AlterColumn<string>(
                name: "NormalizedEmail",
                table: "users",
                type: "character varying(254)",
                maxLength: 254,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(254)",
                oldMaxLength: 254,
                oldCollation: "C");

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedEmail_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedEmail", "NormalizedUsername" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedFirstName_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedFirstName", "NormalizedUsername" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedLastName_NormalizedUsername",
                table: "users",
                columns: new[] { "NormalizedLastName", "NormalizedUsername" });

            foreach (var column in PrefixColumns)
            {
                migrationBuilder.Sql($"CREATE INDEX IF NOT EXISTS \"IX_users_{column}_prefix\" ON users (\"{column}\" text_pattern_ops);");
            }
        }
    }
}
