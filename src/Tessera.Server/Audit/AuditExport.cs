using System.Text;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Http;
using Tessera.Server.Storage;

namespace Tessera.Server.Audit;

/// <summary>
/// The filtered audit events as CSV, newest first, for GET /api/v1/audit-events/export and the audit page's export
/// link. It streams in bounded memory however many events match: keyset pages of <see cref="PageSize"/> by id, each
/// written and flushed before the next is read, nothing tracked. Cells that a spreadsheet would run as a formula are
/// defused (<see cref="CsvText.Field"/>).
/// </summary>
public sealed class AuditExport(AuditQuery query, AuditLog audit, TesseraDbContext db)
{
    public const int PageSize = 1000;

    public const string ContentType = "text/csv; charset=utf-8";

    public const string FileName = "audit-events.csv";

    public static readonly string[] Columns = ["id", "at", "actor", "actorId", "action", "outcome", "targetType", "targetId", "targetName", "clientIp", "details"];

    /// <summary>Records who exported which events (before the first byte goes out: an export cut short was still read).</summary>
    public async Task AuditAsync(AuditFilter filter, CancellationToken ct)
    {
        audit.Record(db, "audit.exported", "audit_log", null, null, filter.ToQuery().Where(p => p.Value is not null).ToDictionary());
        await db.SaveChangesAsync(ct);
        db.ChangeTracker.Clear();
    }

    public async Task WriteAsync(AuditFilter filter, Stream body, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        await using var writer = new StreamWriter(buffer, new UTF8Encoding(false), bufferSize: 16 * 1024, leaveOpen: true) { NewLine = "\r\n" };
        writer.WriteLine(string.Join(',', Columns));
        await FlushAsync(writer, buffer, body, ct);

        long? before = null;
        while (true)
        {
            var events = query.Matching(filter);
            if (before is { } below)
            {
                events = events.Where(e => e.Id < below);
            }

            var page = await events.OrderByDescending(e => e.Id).Take(PageSize).ToListAsync(ct);
            foreach (var e in page)
            {
                writer.Write(e.Id);
                writer.Write(',');
                writer.Write(AuditFilter.Instant(e.At));
                writer.Write(',');
                writer.WriteLine(string.Join(',',
                    CsvText.Field(e.ActorName), e.ActorId?.ToString() ?? "", CsvText.Field(e.Action), CsvText.Field(e.Outcome), CsvText.Field(e.TargetType),
                    CsvText.Field(e.TargetId), CsvText.Field(e.TargetName), CsvText.Field(e.ClientIp), CsvText.Field(e.Details)));
            }

            await FlushAsync(writer, buffer, body, ct);
            if (page.Count < PageSize)
            {
                break;
            }

            before = page[^1].Id;
        }
    }

    /// <summary>The host allows no synchronous writes to the response: a page gathers in memory and goes out here.</summary>
    private static async Task FlushAsync(StreamWriter writer, MemoryStream buffer, Stream body, CancellationToken ct)
    {
        await writer.FlushAsync(ct);
        await body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ct);
        await body.FlushAsync(ct);
        buffer.SetLength(0);
    }
}
