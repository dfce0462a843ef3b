using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ApiCredentials : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "api_credentials",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    UserId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    NormalizedName = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    Type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    SecretHash = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true),
                    PublicKeyJwk = table.Column<string>(type: "character varying(4096)", maxLength: 4096, nullable: true),
                    Thumbprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    KeyType = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    CreatedById = table.Column<Guid>(type: "uuid", nullable: true),
                    CreatedBy = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    ExpiresAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    LastUsedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    ExpiryNoticeDays = table.Column<int>(type: "integer", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_api_credentials", x => x.Id);
                    table.ForeignKey(
                        name: "FK_api_credentials_users_UserId",
                        column: x => x.UserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "client_assertion_ids",
                columns: table => new
                {
                    UserId = table.Column<Guid>(type: "uuid", nullable: false),
                    Jti = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_client_assertion_ids", x => new { x.UserId, x.Jti });
                });

            migrationBuilder.CreateIndex(
                name: "IX_api_credentials_ExpiresAt",
                table: "api_credentials",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_api_credentials_UserId_NormalizedName",
                table: "api_credentials",
                columns: new[] { "UserId", "NormalizedName" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_client_assertion_ids_ExpiresAt",
                table: "client_assertion_ids",
                column: "ExpiresAt");

            // An API user's one secret becomes its credential named "initial" (the same PBKDF2 hash, under the user's id),
            // and the user row keeps no hash: from now on the token endpoint reads credentials only.
            migrationBuilder.Sql("""
                INSERT INTO api_credentials ("Id", "UserId", "Name", "NormalizedName", "Type", "SecretHash", "CreatedAt")
                SELECT "Id", "Id", 'initial', 'INITIAL', 'secret', "PasswordHash", COALESCE("PasswordChangedAt", "CreatedAt")
                FROM users WHERE "Type" = 'api' AND "PasswordHash" IS NOT NULL;
                UPDATE users SET "PasswordHash" = NULL WHERE "Type" = 'api';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Back to one secret per API user: the administrator-chosen "initial", if there is one.
            migrationBuilder.Sql("""
                UPDATE users SET "PasswordHash" = (SELECT c."SecretHash" FROM api_credentials c
                    WHERE c."UserId" = users."Id" AND c."NormalizedName" = 'INITIAL' AND c."SecretHash" NOT LIKE 'sha256:%')
                WHERE "Type" = 'api';
                """);

            migrationBuilder.DropTable(
                name: "api_credentials");

            migrationBuilder.DropTable(
                name: "client_assertion_ids");
        }
    }
}
