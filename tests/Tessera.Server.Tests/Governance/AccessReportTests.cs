using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Delegation;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Governance;

public sealed class SqliteAccessReportTests(SqliteHost host) : AccessReportTests<SqliteHost>(host);

public sealed class PostgresAccessReportTests(PostgresHost host) : AccessReportTests<PostgresHost>(host);

/// <summary>
/// GET /access-report: every user's privileges and rules with their sources (role, group or none, validity and
/// state), as CSV or JSON, for holders of VIEW_AUDIT_LOG or REVIEW_ACCESS only, audited.
/// </summary>
public abstract class AccessReportTests<THost>(THost host) : IClassFixture<THost> where THost : HostFixture
{
    private TesseraApp App => host.App;

    [Fact]
    public async Task The_CSV_lists_each_privilege_and_rule_with_its_source_validity_and_state()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var direct = Seed.Unique("Teller") + ", \"EU\"";
        await Expect.ResponseAsync(await admin.PostAsJsonAsync("/api/v1/roles", new
        {
            name = direct, privileges = new[] { Privileges.ViewUsers, Privileges.ViewRoles }, rules = new[] { new { resource = "*", action = "*", effect = "deny" } },
        }), HttpStatusCode.Created);
        var (_, viaGroup) = await DelegationArrange.RoleAsync(admin, "aud", Privileges.ViewAuditLog);
        var holder = await Seed.UserAsync(App, UserType.BackOffice, null, direct);
        var nobody = await Seed.UserAsync(App, UserType.BackOffice, null);
        var (groupId, group) = await DelegationArrange.GroupAsync(admin, [viaGroup], holder.Id);
        // Whole seconds: PostgreSQL keeps microseconds, not .NET's ticks.
        var yesterday = App.Clock.GetUtcNow().UtcDateTime.AddDays(-1);
        var lapsed = new DateTime(yesterday.Ticks - (yesterday.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        await using (var scope = App.Scope(out var db))
        {
            await db.GroupMembers.Where(m => m.GroupId == groupId).ExecuteUpdateAsync(s => s.SetProperty(m => m.ValidUntil, lapsed));
        }

        var reviewer = await DelegationArrange.ActorAsync(App, admin, [Privileges.ReviewAccess]);
        var response = await reviewer.Client.GetAsync("/api/v1/access-report?format=csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("access-report.csv", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("userId,username,type,status,entry,privilege,resource,action,effect,role,group,validFrom,validUntil,state", lines[0]);
        var rows = lines.Skip(1).Select(Csv.Fields).ToList();
        Assert.All(rows, r => Assert.Equal(14, r.Length));

        var mine = rows.Where(r => r[1] == holder.Username).Select(r => string.Join('|', r[4..11].Append(r[12]).Append(r[13]))).ToList();
        Assert.Equal(
        [
            $"privilege|VIEW_ROLES||||{direct}|||active",
            $"privilege|VIEW_USERS||||{direct}|||active",
            $"rule||*|*|deny|{direct}|||active",
            $"privilege|VIEW_AUDIT_LOG||||{viaGroup}|{group}|{lapsed:yyyy-MM-ddTHH:mm:ss.FFFFFFFZ}|expired",
        ], mine);
        Assert.All(rows.Where(r => r[1] == holder.Username), r => Assert.Equal([holder.Id.ToString(), holder.Username, "backoffice", "invited"], r[..4]));
        Assert.Equal(["none"], rows.Where(r => r[1] == nobody.Username).Select(r => r[4]));

        // An API user holding only System, a role without privileges or rules, is listed too.
        var client = await Seed.UserAsync(App, UserType.Api, null, BuiltInRoles.System);
        var again = (await (await reviewer.Client.GetAsync("/api/v1/access-report?format=csv")).Content.ReadAsStringAsync())
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(Csv.Fields).ToList();
        Assert.Equal(["none"], again.Where(r => r[1] == client.Username).Select(r => r[4]));
        Assert.Contains(rows, r => r[1] == TesseraApp.AdminUsername && r[4] == "privilege" && r[5] == Privileges.ManageGovernance && r[9] == "Administrator" && r[10] == "");

        // The quoting is RFC 4180's: the role's comma and quotes survive a round trip.
        Assert.Contains(lines, l => l.Contains($"\"{direct.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", StringComparison.Ordinal));

        var current = (await (await reviewer.Client.GetAsync("/api/v1/access-report?format=csv&includeExpired=false&type=backoffice")).Content.ReadAsStringAsync())
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(Csv.Fields).ToList();
        Assert.Equal(3, current.Count(r => r[1] == holder.Username));
        Assert.DoesNotContain(current, r => r[13] == "expired" || r[2] == "api");

        await App.AuditWrittenAsync();
        await using var check = App.Scope(out var audit);
        Assert.Equal(3, await audit.AuditEvents.CountAsync(a => a.Action == "access_report.exported" && a.ActorId == reviewer.Id));
    }

    [Fact]
    public async Task The_JSON_nests_each_users_privileges_and_rules_with_their_sources()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var (_, role) = await DelegationArrange.RoleAsync(admin, "rep", Privileges.ViewUsers);
        var holder = await Seed.UserAsync(App, UserType.BackOffice, null, role);
        var auditor = await DelegationArrange.ActorAsync(App, admin, [Privileges.ViewAuditLog]);

        var response = await auditor.Client.GetAsync("/api/v1/access-report");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var report = await Expect.ResponseAsync(response, HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.String, report.GetProperty("generatedAt").ValueKind);
        var user = report.GetProperty("users").EnumerateArray().Single(u => u.GetProperty("username").GetString() == holder.Username);
        Assert.Equal(holder.Id, user.GetProperty("userId").GetGuid());
        Assert.Equal("backoffice", user.GetProperty("type").GetString());
        var privilege = Assert.Single(user.GetProperty("privileges").EnumerateArray());
        Assert.Equal(Privileges.ViewUsers, privilege.GetProperty("name").GetString());
        Assert.Equal(role, privilege.GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Null, privilege.GetProperty("group").ValueKind);
        Assert.Equal(JsonValueKind.Null, privilege.GetProperty("validUntil").ValueKind);
        Assert.Equal("active", privilege.GetProperty("state").GetString());
        Assert.Empty(user.GetProperty("rules").EnumerateArray());
    }

    [Fact]
    public async Task The_Back_Office_offers_the_download_to_auditors()
    {
        using var browser = App.Client(cookies: true);
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, TesseraApp.AdminUsername, TesseraApp.AdminPassword)).StatusCode);
        Assert.Contains("href=\"/admin/access-report\"", await browser.GetStringAsync("/admin/access-report"), StringComparison.Ordinal);

        var response = await browser.GetAsync("/admin/access-report?handler=Download&format=csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("userId,username,", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => Csv.Fields(l)[1] == TesseraApp.AdminUsername);
    }

    [Fact]
    public async Task Only_auditors_and_reviewers_read_it_and_bad_parameters_are_refused()
    {
        using var admin = await Seed.AdminApiAsync(App);
        var viewer = await DelegationArrange.ActorAsync(App, admin, [.. DelegationArrange.AllBut(Privileges.ViewAuditLog, Privileges.ReviewAccess)]);
        await Expect.ProblemAsync(await viewer.Client.GetAsync("/api/v1/access-report"), HttpStatusCode.Forbidden, "forbidden");
        await Expect.ProblemAsync(await admin.GetAsync("/api/v1/access-report?format=xml"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync("/api/v1/access-report?type=robot"), HttpStatusCode.BadRequest, "validation_failed");
        await Expect.ProblemAsync(await admin.GetAsync("/api/v1/access-report?includeExpired=maybe"), HttpStatusCode.BadRequest, "validation_failed");
    }
}

/// <summary>A line of RFC 4180 CSV (without line breaks inside fields) as its fields.</summary>
public static class Csv
{
    public static string[] Fields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return [.. fields];
    }
}
