using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Directory : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_users_CreatedAt_Id",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedFirstName_Id",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedLastName_Id",
                table: "users");

            migrationBuilder.AddColumn<string>(
                name: "SearchText",
                table: "users",
                type: "TEXT",
                maxLength: 600,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateTable(
                name: "outbox_messages",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    To = table.Column<string>(type: "TEXT", maxLength: 254, nullable: false),
                    Subject = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    TextBody = table.Column<string>(type: "TEXT", nullable: false),
                    HtmlBody = table.Column<string>(type: "TEXT", nullable: true),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    NextAttemptAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    SentAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    LastError = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outbox_messages", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "password_history",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    UserId = table.Column<Guid>(type: "TEXT", nullable: false),
                    PasswordHash = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_password_history", x => x.Id);
                    table.ForeignKey(
                        name: "FK_password_history_users_UserId",
                        column: x => x.UserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "resource_actions",
                columns: table => new
                {
                    Resource = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_resource_actions", x => new { x.Resource, x.Action });
                });

            migrationBuilder.CreateIndex(
                name: "IX_users_CreatedAt_NormalizedUsername",
                table: "users",
                columns: new[] { "CreatedAt", "NormalizedUsername" });

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

            migrationBuilder.CreateIndex(
                name: "IX_users_Type_Status",
                table: "users",
                columns: new[] { "Type", "Status" });

            migrationBuilder.CreateIndex(
                name: "IX_outbox_messages_Status_NextAttemptAt",
                table: "outbox_messages",
                columns: new[] { "Status", "NextAttemptAt" });

            migrationBuilder.CreateIndex(
                name: "IX_password_history_UserId_Id",
                table: "password_history",
                columns: new[] { "UserId", "Id" });

            migrationBuilder.Sql("UPDATE users SET SearchText = NormalizedUsername || ' ' || NormalizedFirstName || ' ' || NormalizedLastName || ' ' || NormalizedEmail;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "outbox_messages");

            migrationBuilder.DropTable(
                name: "password_history");

            migrationBuilder.DropTable(
                name: "resource_actions");

            migrationBuilder.DropIndex(
                name: "IX_users_CreatedAt_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedEmail_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedFirstName_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_NormalizedLastName_NormalizedUsername",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_users_Type_Status",
                table: "users");

            migrationBuilder.DropColumn(
                name: "SearchText",
                table: "users");

            migrationBuilder.CreateIndex(
                name: "IX_users_CreatedAt_Id",
                table: "users",
                columns: new[] { "CreatedAt", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedFirstName_Id",
                table: "users",
                columns: new[] { "NormalizedFirstName", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_users_NormalizedLastName_Id",
                table: "users",
                columns: new[] { "NormalizedLastName", "Id" });
        }
    }
}
