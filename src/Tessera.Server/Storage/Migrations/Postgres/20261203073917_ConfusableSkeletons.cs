using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ConfusableSkeletons : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EmailSkeleton",
                table: "users",
                type: "character varying(512)",
                maxLength: 512,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "UsernameSkeleton",
                table: "users",
                type: "character varying(512)",
                maxLength: 512,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "NameSkeleton",
                table: "roles",
                type: "character varying(512)",
                maxLength: 512,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "NameSkeleton",
                table: "groups",
                type: "character varying(512)",
                maxLength: 512,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateIndex(
                name: "IX_users_EmailSkeleton",
                table: "users",
                column: "EmailSkeleton");

            migrationBuilder.CreateIndex(
                name: "IX_users_UsernameSkeleton",
                table: "users",
                column: "UsernameSkeleton");

            migrationBuilder.CreateIndex(
                name: "IX_roles_NameSkeleton",
                table: "roles",
                column: "NameSkeleton");

            migrationBuilder.CreateIndex(
                name: "IX_groups_NameSkeleton",
                table: "groups",
                column: "NameSkeleton");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_users_EmailSkeleton",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_UsernameSkeleton",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_roles_NameSkeleton",
                table: "roles");

            migrationBuilder.DropIndex(
                name: "IX_groups_NameSkeleton",
                table: "groups");

            migrationBuilder.DropColumn(
                name: "EmailSkeleton",
                table: "users");

            migrationBuilder.DropColumn(
                name: "UsernameSkeleton",
                table: "users");

            migrationBuilder.DropColumn(
                name: "NameSkeleton",
                table: "roles");

            migrationBuilder.DropColumn(
                name: "NameSkeleton",
                table: "groups");
        }
    }
}
