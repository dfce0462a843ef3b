using System.Data;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Governance;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>What GET /access-report writes: the format, and which users and assignments it covers.</summary>
public sealed record AccessReportQuery(string Format, UserType? Type, bool IncludeExpired)
{
    public const string Csv = "csv";
    public const string Json = "json";

    public string ContentType => Format == Csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";

    /// <summary>Reads the query string's values; 400 validation_failed naming each bad one.</summary>
    public static Outcome<AccessReportQuery> Parse(string? format, string? type, string? includeExpired)
    {
        var errors = new Dictionary<string, string[]>();
        format = string.IsNullOrWhiteSpace(format) ? Json : format.Trim().ToLowerInvariant();
        if (format is not (Csv or Json))
        {
            errors["format"] = ["format must be 'csv' or 'json'."];
        }

        UserType? userType = null;
        if (!string.IsNullOrWhiteSpace(type))
        {
            if (UserWireNames.TryParseType(type, out var parsed))
            {
                userType = parsed;
            }
            else
            {
                errors["type"] = ["type must be 'backoffice' or 'api'."];
            }
        }

        var expired = true;
        if (!string.IsNullOrWhiteSpace(includeExpired) && !bool.TryParse(includeExpired.Trim(), out expired))
        {
            errors["includeExpired"] = ["includeExpired must be true or false."];
        }

        return errors.Count > 0
            ? Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors)
            : Outcome<AccessReportQuery>.Ok(new AccessReportQuery(format, userType, expired));
    }
}

/// <summary>
/// The access report: for every user, every privilege and permission rule they hold, each with its source (the
/// role, and the group it comes through or none when granted directly), the assignment's validity and its state
/// now. It streams in bounded memory whatever the number of users: the role definitions and the groups' roles are
/// read once (the directory has few of them), the users are read in keyset pages of <see cref="PageSize"/> by
/// username, each page's assignments in two queries, and each page is written and flushed before the next is read.
/// Nothing is tracked by the context, so memory holds one page at a time.
/// </summary>
public sealed class AccessReport(TesseraDbContext db, AuditLog audit, TimeProvider clock)
{
    public const int PageSize = 1000;

    public static readonly string[] CsvColumns =
        ["userId", "username", "type", "status", "entry", "privilege", "resource", "action", "effect", "role", "group", "validFrom", "validUntil", "state"];

    /// <summary>Records who exported which report (before the first byte goes out: a report cut short was still read).</summary>
    public async Task AuditAsync(AccessReportQuery query, CancellationToken ct)
    {
        audit.Record(db, "access_report.exported", "access_report", null, null,
            new { format = query.Format, type = query.Type?.ToWire(), includeExpired = query.IncludeExpired });
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
    }

    public async Task WriteAsync(AccessReportQuery query, Stream body, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;

        // On PostgreSQL the whole report reads one snapshot. SQLite's read transactions would hold the one writer
        // back for the export's length, so there each page reads the directory as it stands then.
        await using var snapshot = db.Provider == DatabaseProvider.Postgres
            ? await db.Database.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct)
            : null;
        var roles = await RolesAsync(ct);
        var groups = await db.Groups.AsNoTracking().Select(g => new { g.Id, g.Name }).ToDictionaryAsync(g => g.Id, g => g.Name, ct);
        var groupRoles = (await db.GroupRoles.AsNoTracking().Select(r => new { r.GroupId, r.RoleId }).ToListAsync(ct))
            .GroupBy(r => r.GroupId).ToDictionary(g => g.Key, g => g.Select(r => r.RoleId).ToArray());

        await using var sink = query.Format == AccessReportQuery.Csv ? (IReportSink)new CsvSink(body) : new JsonSink(body, now);
        await sink.StartAsync(ct);
        string? after = null;
        while (true)
        {
            var users = db.Users.AsNoTracking();
            if (query.Type is { } type)
            {
                users = users.Where(u => u.Type == type);
            }

            if (after is not null)
            {
                users = users.Where(u => string.Compare(u.NormalizedUsername, after) > 0);
            }

            var page = await users.OrderBy(u => u.NormalizedUsername).Take(PageSize)
                .Select(u => new ReportUser(u.Id, u.Username, u.NormalizedUsername, u.Type, u.Status)).ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }

            var ids = page.Select(u => u.Id).ToList();
            var direct = (await db.UserRoles.AsNoTracking().Where(r => ids.Contains(r.UserId))
                    .Select(r => new { r.UserId, r.RoleId, r.ValidFrom, r.ValidUntil }).ToListAsync(ct))
                .ToLookup(r => r.UserId);
            var memberships = (await db.GroupMembers.AsNoTracking().Where(m => ids.Contains(m.UserId))
                    .Select(m => new { m.UserId, m.GroupId, m.ValidFrom, m.ValidUntil }).ToListAsync(ct))
                .ToLookup(m => m.UserId);

            foreach (var user in page)
            {
                var sources = new List<Source>();
                foreach (var grant in direct[user.Id])
                {
                    if (roles.TryGetValue(grant.RoleId, out var role))
                    {
                        sources.Add(new Source(role, null, new Validity(grant.ValidFrom, grant.ValidUntil)));
                    }
                }

                foreach (var membership in memberships[user.Id].OrderBy(m => groups.GetValueOrDefault(m.GroupId), StringComparer.Ordinal))
                {
                    foreach (var roleId in groupRoles.GetValueOrDefault(membership.GroupId, []))
                    {
                        if (roles.TryGetValue(roleId, out var role))
                        {
                            sources.Add(new Source(role, groups.GetValueOrDefault(membership.GroupId), new Validity(membership.ValidFrom, membership.ValidUntil)));
                        }
                    }
                }

                if (!query.IncludeExpired)
                {
                    sources.RemoveAll(s => s.Validity.HasLapsedAt(now));
                }

                sink.User(user, sources, now);
            }

            await sink.FlushAsync(ct);
            after = page[^1].NormalizedUsername;
        }

        await sink.EndAsync(ct);
    }

    private async Task<Dictionary<Guid, ReportRole>> RolesAsync(CancellationToken ct)
    {
        var roles = await db.Roles.AsNoTracking().Select(r => new { r.Id, r.Name }).ToListAsync(ct);
        var privileges = (await db.RolePrivileges.AsNoTracking().Select(p => new { p.RoleId, p.Privilege }).ToListAsync(ct)).ToLookup(p => p.RoleId, p => p.Privilege);
        var rules = (await db.RolePermissions.AsNoTracking().Select(p => new { p.RoleId, p.Resource, p.Action, p.Effect }).ToListAsync(ct))
            .ToLookup(p => p.RoleId, p => new ReportRule(p.Resource, p.Action, p.Effect));
        return roles.ToDictionary(r => r.Id, r => new ReportRole(r.Name,
            [.. privileges[r.Id].Order(StringComparer.Ordinal)],
            [.. rules[r.Id].OrderBy(x => x.Resource, StringComparer.Ordinal).ThenBy(x => x.Action, StringComparer.Ordinal)]));
    }

    private sealed record ReportUser(Guid Id, string Username, string NormalizedUsername, UserType Type, UserStatus Status);

    private sealed record ReportRule(string Resource, string Action, string Effect);

    private sealed record ReportRole(string Name, string[] Privileges, ReportRule[] Rules);

    private sealed record Source(ReportRole Role, string? Group, Validity Validity);

    private interface IReportSink : IAsyncDisposable
    {
        Task StartAsync(CancellationToken ct);

        void User(ReportUser user, List<Source> sources, DateTime now);

        Task FlushAsync(CancellationToken ct);

        Task EndAsync(CancellationToken ct);
    }

    /// <summary>
    /// One line per privilege or rule and source; a user whose roles carry nothing gets one line with entry <c>none</c>. A page's
    /// lines gather in memory (the host allows no synchronous writes to the response) and go out at each flush.
    /// </summary>
    private sealed class CsvSink(Stream body) : IReportSink
    {
        private readonly MemoryStream _page = new();
        private StreamWriter? _writer;

        private StreamWriter Writer => _writer ??= new StreamWriter(_page, new UTF8Encoding(false), bufferSize: 16 * 1024, leaveOpen: true) { NewLine = "\r\n" };

        public Task StartAsync(CancellationToken ct)
        {
            Writer.WriteLine(string.Join(',', CsvColumns));
            return FlushAsync(ct);
        }

        public void User(ReportUser user, List<Source> sources, DateTime now)
        {
            var writer = Writer;
            var head = $"{user.Id},{Field(user.Username)},{user.Type.ToWire()},{user.Status.ToWire()},";

            // A user whose roles carry nothing (System alone, say) still gets the line that says so.
            if (sources.All(s => s.Role.Privileges.Length == 0 && s.Role.Rules.Length == 0))
            {
                writer.Write(head);
                writer.WriteLine("none,,,,,,,,,");
                return;
            }

            foreach (var source in sources)
            {
                var tail = $"{Field(source.Role.Name)},{Field(source.Group)},{Time(source.Validity.From)},{Time(source.Validity.Until)},{source.Validity.StateAt(now)}";
                foreach (var privilege in source.Role.Privileges)
                {
                    writer.Write(head);
                    writer.Write("privilege,");
                    writer.Write(privilege);
                    writer.Write(",,,,");
                    writer.WriteLine(tail);
                }

                foreach (var rule in source.Role.Rules)
                {
                    writer.Write(head);
                    writer.Write("rule,,");
                    writer.Write($"{Field(rule.Resource)},{Field(rule.Action)},{rule.Effect},");
                    writer.WriteLine(tail);
                }
            }
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            Writer.Flush();
            await body.WriteAsync(_page.GetBuffer().AsMemory(0, (int)_page.Length), ct);
            await body.FlushAsync(ct);
            _page.SetLength(0);
        }

        public Task EndAsync(CancellationToken ct) => FlushAsync(ct);

        public async ValueTask DisposeAsync()
        {
            if (_writer is not null)
            {
                await _writer.DisposeAsync();
            }

            await _page.DisposeAsync();
        }

        private static string Time(DateTime? at) => at?.ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", System.Globalization.CultureInfo.InvariantCulture) ?? "";

        /// <summary>RFC 4180, with formulas defused: one rule for every CSV export (<see cref="CsvText.Field"/>).</summary>
        public static string Field(string? value) => CsvText.Field(value);
    }

    /// <summary><c>{"generatedAt", "users":[{userId, username, type, status, privileges:[...], rules:[...]}]}</c>.</summary>
    private sealed class JsonSink(Stream body, DateTime generatedAt) : IReportSink
    {
        private readonly Utf8JsonWriter _writer = new(body, new JsonWriterOptions { SkipValidation = false });

        public async Task StartAsync(CancellationToken ct)
        {
            _writer.WriteStartObject();
            _writer.WriteString("generatedAt", DateTime.SpecifyKind(generatedAt, DateTimeKind.Utc));
            _writer.WriteStartArray("users");
            await FlushAsync(ct);
        }

        public void User(ReportUser user, List<Source> sources, DateTime now)
        {
            _writer.WriteStartObject();
            _writer.WriteString("userId", user.Id);
            _writer.WriteString("username", user.Username);
            _writer.WriteString("type", user.Type.ToWire());
            _writer.WriteString("status", user.Status.ToWire());
            _writer.WriteStartArray("privileges");
            foreach (var source in sources)
            {
                foreach (var privilege in source.Role.Privileges)
                {
                    _writer.WriteStartObject();
                    _writer.WriteString("name", privilege);
                    WriteSource(source, now);
                    _writer.WriteEndObject();
                }
            }

            _writer.WriteEndArray();
            _writer.WriteStartArray("rules");
            foreach (var source in sources)
            {
                foreach (var rule in source.Role.Rules)
                {
                    _writer.WriteStartObject();
                    _writer.WriteString("resource", rule.Resource);
                    _writer.WriteString("action", rule.Action);
                    _writer.WriteString("effect", rule.Effect);
                    WriteSource(source, now);
                    _writer.WriteEndObject();
                }
            }

            _writer.WriteEndArray();
            _writer.WriteEndObject();
        }

        private void WriteSource(Source source, DateTime now)
        {
            _writer.WriteString("role", source.Role.Name);
            WriteNullable("group", source.Group);
            WriteNullable("validFrom", source.Validity.From);
            WriteNullable("validUntil", source.Validity.Until);
            _writer.WriteString("state", source.Validity.StateAt(now));
        }

        private void WriteNullable(string name, string? value)
        {
            if (value is null)
            {
                _writer.WriteNull(name);
            }
            else
            {
                _writer.WriteString(name, value);
            }
        }

        private void WriteNullable(string name, DateTime? value)
        {
            if (value is { } at)
            {
                _writer.WriteString(name, DateTime.SpecifyKind(at, DateTimeKind.Utc));
            }
            else
            {
                _writer.WriteNull(name);
            }
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            await _writer.FlushAsync(ct);
            await body.FlushAsync(ct);
        }

        public async Task EndAsync(CancellationToken ct)
        {
            _writer.WriteEndArray();
            _writer.WriteEndObject();
            await FlushAsync(ct);
        }

        public ValueTask DisposeAsync() => _writer.DisposeAsync();
    }
}

public static class AccessReportEndpoints
{
    public static IEndpointRouteBuilder MapAccessReport(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/access-report", async (
                [System.ComponentModel.Description("csv or json (the default).")] string? format,
                [System.ComponentModel.Description("Only users of this type: backoffice or api.")] string? type,
                [System.ComponentModel.Description("false leaves out assignments whose validUntil has passed; true (the default) lists them as expired.")] string? includeExpired,
                AccessReport report, CancellationToken ct) =>
            {
                var query = AccessReportQuery.Parse(format, type, includeExpired);
                if (!query.Succeeded)
                {
                    return Problems.From(query.Failure!);
                }

                await report.AuditAsync(query.Value!, ct);
                var name = query.Value!.Format == AccessReportQuery.Csv ? "access-report.csv" : null;
                return Results.Stream(body => report.WriteAsync(query.Value!, body, ct), query.Value!.ContentType, name);
            })
            .WithTags("Governance")
            .RequireAnyPrivilege(Tessera.Core.Access.Privileges.ViewAuditLog, Tessera.Core.Access.Privileges.ReviewAccess)
            .WithSummary("Every user's privileges and permission rules, each with its source (role, group, validity), streamed as CSV or JSON.");
        return app;
    }
}
