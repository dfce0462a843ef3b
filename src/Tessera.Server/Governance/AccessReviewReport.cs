using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

/// <summary>
/// A campaign's completion report: every item with its user, role, group, validity, decision, reviewer, time, comment
/// and outcome. Written straight to the response as the rows are read, so a campaign of any size goes out in bounded
/// memory.
/// </summary>
public sealed class AccessReviewReport(AccessReviewResponse review, TesseraDbContext db)
{
    public static readonly string[] Columns =
        ["itemId", "userId", "username", "role", "group", "validFrom", "validUntil", "decision", "reviewer", "decidedAt", "comment", "outcome"];

    public AccessReviewResponse Review => review;

    /// <summary>A file name for the download: the campaign's id, since its name may hold anything.</summary>
    public string FileName(string extension) => $"access-review-{review.Id}.{extension}";

    private IAsyncEnumerable<AccessReviewItem> Items()
        => db.AccessReviewItems.AsNoTracking().Where(i => i.ReviewId == review.Id).OrderBy(i => i.Username).ThenBy(i => i.Id).AsAsyncEnumerable();

    /// <summary>RFC 4180 CSV with a header row, CRLF line ends, UTF-8 without a byte order mark.</summary>
    public async Task WriteCsvAsync(Stream body, CancellationToken ct)
    {
        await using var writer = new StreamWriter(body, new UTF8Encoding(false), 16 * 1024, leaveOpen: true) { NewLine = "\r\n" };
        await writer.WriteLineAsync(string.Join(',', Columns));
        var rows = 0;
        await foreach (var i in Items().WithCancellation(ct))
        {
            await writer.WriteLineAsync(string.Join(',', new[]
            {
                i.Id.ToString(), i.UserId.ToString(), i.Username, i.RoleName, i.GroupName, Instant(i.ValidFrom), Instant(i.ValidUntil),
                i.Decision ?? "pending", i.DecidedByUsername, Instant(i.DecidedAt), i.Comment, i.Outcome,
            }.Select(Field)));
            if (++rows % 1000 == 0)
            {
                await writer.FlushAsync(ct);
            }
        }

        await writer.FlushAsync(ct);
    }

    /// <summary>JSON: <c>{"review":{…},"items":[…]}</c>, the items as <c>GET /access-reviews/{id}/items</c> answers them.</summary>
    public async Task WriteJsonAsync(Stream body, CancellationToken ct)
    {
        // The writer fills a buffer that goes out asynchronously whenever it holds enough: the server allows no synchronous writes.
        var buffer = new ArrayBufferWriter<byte>(32 * 1024);
        await using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartObject();
        writer.WritePropertyName("review");
        JsonSerializer.Serialize(writer, review, JsonSerializerOptions.Web);
        writer.WriteStartArray("items");
        await foreach (var i in Items().WithCancellation(ct))
        {
            JsonSerializer.Serialize(writer, AccessReviewService.ToResponse(i), JsonSerializerOptions.Web);
            if (buffer.WrittenCount >= 16 * 1024)
            {
                await body.WriteAsync(buffer.WrittenMemory, ct);
                buffer.ResetWrittenCount();
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(ct);
        await body.WriteAsync(buffer.WrittenMemory, ct);
    }

    private static string? Instant(DateTime? at) => at?.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// One CSV field: quoted when it holds a comma, quote, line break or edge space, quotes doubled. A field that a
    /// spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) is prefixed with an apostrophe: a
    /// reviewer's comment is someone's input, and the report is opened in spreadsheets.
    /// </summary>
    public static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == ' ' || value[^1] == ' '
            ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : value;
    }
}
