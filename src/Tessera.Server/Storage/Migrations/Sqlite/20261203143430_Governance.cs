using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tessera.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Governance : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "LapseRecordedAt",
                table: "user_roles",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "ValidFrom",
                table: "user_roles",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "ValidUntil",
                table: "user_roles",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "RequiresApproval",
                table: "roles",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTime>(
                name: "LapseRecordedAt",
                table: "group_members",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "ValidFrom",
                table: "group_members",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "ValidUntil",
                table: "group_members",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "access_reviews",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Scope = table.Column<string>(type: "TEXT", maxLength: 20000, nullable: false),
                    DueAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    CreatedBy = table.Column<Guid>(type: "TEXT", nullable: false),
                    CreatedByUsername = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ClosedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    ClosedBy = table.Column<Guid>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_access_reviews", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "change_requests",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Operation = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Change = table.Column<string>(type: "TEXT", nullable: false),
                    Preview = table.Column<string>(type: "TEXT", nullable: false),
                    TargetType = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    TargetId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    TargetName = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    MakerId = table.Column<Guid>(type: "TEXT", nullable: false),
                    MakerUsername = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    CheckerId = table.Column<Guid>(type: "TEXT", nullable: true),
                    CheckerUsername = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    DecidedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    Comment = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    FailureCode = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    FailureDetail = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_change_requests", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "sod_constraints",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    NormalizedName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    MaxHeld = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sod_constraints", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "access_review_items",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    ReviewId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UserId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Username = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    RoleId = table.Column<Guid>(type: "TEXT", nullable: true),
                    RoleName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    GroupId = table.Column<Guid>(type: "TEXT", nullable: true),
                    GroupName = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    ValidFrom = table.Column<DateTime>(type: "TEXT", nullable: true),
                    ValidUntil = table.Column<DateTime>(type: "TEXT", nullable: true),
                    Decision = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    DecidedBy = table.Column<Guid>(type: "TEXT", nullable: true),
                    DecidedByUsername = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    DecidedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    Comment = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    Outcome = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_access_review_items", x => x.Id);
                    table.ForeignKey(
                        name: "FK_access_review_items_access_reviews_ReviewId",
                        column: x => x.ReviewId,
                        principalTable: "access_reviews",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "access_review_reviewers",
                columns: table => new
                {
                    ReviewId = table.Column<Guid>(type: "TEXT", nullable: false),
                    UserId = table.Column<Guid>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_access_review_reviewers", x => new { x.ReviewId, x.UserId });
                    table.ForeignKey(
                        name: "FK_access_review_reviewers_access_reviews_ReviewId",
                        column: x => x.ReviewId,
                        principalTable: "access_reviews",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_access_review_reviewers_users_UserId",
                        column: x => x.UserId,
                        principalTable: "users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "sod_constraint_roles",
                columns: table => new
                {
                    ConstraintId = table.Column<Guid>(type: "TEXT", nullable: false),
                    RoleId = table.Column<Guid>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sod_constraint_roles", x => new { x.ConstraintId, x.RoleId });
                    table.ForeignKey(
                        name: "FK_sod_constraint_roles_roles_RoleId",
                        column: x => x.RoleId,
                        principalTable: "roles",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_sod_constraint_roles_sod_constraints_ConstraintId",
                        column: x => x.ConstraintId,
                        principalTable: "sod_constraints",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_user_roles_ValidUntil",
                table: "user_roles",
                column: "ValidUntil");

            migrationBuilder.CreateIndex(
                name: "IX_group_members_ValidUntil",
                table: "group_members",
                column: "ValidUntil");

            migrationBuilder.CreateIndex(
                name: "IX_access_review_items_ReviewId_Decision",
                table: "access_review_items",
                columns: new[] { "ReviewId", "Decision" });

            migrationBuilder.CreateIndex(
                name: "IX_access_review_items_ReviewId_Username",
                table: "access_review_items",
                columns: new[] { "ReviewId", "Username" });

            migrationBuilder.CreateIndex(
                name: "IX_access_review_reviewers_UserId",
                table: "access_review_reviewers",
                column: "UserId");

            migrationBuilder.CreateIndex(
                name: "IX_access_reviews_Status_DueAt",
                table: "access_reviews",
                columns: new[] { "Status", "DueAt" });

            migrationBuilder.CreateIndex(
                name: "IX_change_requests_ExpiresAt",
                table: "change_requests",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_change_requests_MakerId_CreatedAt",
                table: "change_requests",
                columns: new[] { "MakerId", "CreatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_change_requests_Status_CreatedAt",
                table: "change_requests",
                columns: new[] { "Status", "CreatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_sod_constraint_roles_RoleId",
                table: "sod_constraint_roles",
                column: "RoleId");

            migrationBuilder.CreateIndex(
                name: "IX_sod_constraints_NormalizedName",
                table: "sod_constraints",
                column: "NormalizedName",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "access_review_items");

            migrationBuilder.DropTable(
                name: "access_review_reviewers");

            migrationBuilder.DropTable(
                name: "change_requests");

            migrationBuilder.DropTable(
                name: "sod_constraint_roles");

            migrationBuilder.DropTable(
                name: "access_reviews");

            migrationBuilder.DropTable(
                name: "sod_constraints");

            migrationBuilder.DropIndex(
                name: "IX_user_roles_ValidUntil",
                table: "user_roles");

            migrationBuilder.DropIndex(
                name: "IX_group_members_ValidUntil",
                table: "group_members");

            migrationBuilder.DropColumn(
                name: "LapseRecordedAt",
                table: "user_roles");

            migrationBuilder.DropColumn(
                name: "ValidFrom",
                table: "user_roles");

            migrationBuilder.DropColumn(
                name: "ValidUntil",
                table: "user_roles");

            migrationBuilder.DropColumn(
                name: "RequiresApproval",
                table: "roles");

            migrationBuilder.DropColumn(
                name: "LapseRecordedAt",
                table: "group_members");

            migrationBuilder.DropColumn(
                name: "ValidFrom",
                table: "group_members");

            migrationBuilder.DropColumn(
                name: "ValidUntil",
                table: "group_members");
        }
    }
}
