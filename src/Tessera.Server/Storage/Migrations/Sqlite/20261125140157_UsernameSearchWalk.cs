using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Sqlite
{
    /// <summary>
    /// A common `q` term (more matches than the trigram index hands out as candidates) is answered by walking
    /// users in username order until a page matches. With the search text beside the username in one index, that
    /// walk reads index entries only and touches a user row just for the matches it returns.
    /// </summary>
    public partial class UsernameSearchWalk : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("CREATE INDEX \"IX_users_NormalizedUsername_SearchText\" ON users (\"NormalizedUsername\", \"SearchText\");");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX IF EXISTS \"IX_users_NormalizedUsername_SearchText\";");
        }
    }
}
