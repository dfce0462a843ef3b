using System.Text;

namespace Tessera.Core.Customers;

/// <summary>One data record of a customer CSV file; <see cref="Line"/> is the file line it starts on (the header is line 1).</summary>
public sealed record CustomerCsvRow(int Line, string? Reference, string? Email, string? FirstName, string? LastName, string? Status);

/// <summary>A record the file cannot give as a row (a wrong number of fields): its line and why.</summary>
public sealed record CustomerCsvProblem(int Line, string Field, string Message);

/// <summary>
/// The parsed file: its rows and the records that are not rows, or <see cref="FileError"/> (a stable code, see
/// <see cref="CustomerCsv"/>) when the whole file is refused and nothing in it counts.
/// </summary>
public sealed record CustomerCsvFile(IReadOnlyList<CustomerCsvRow> Rows, IReadOnlyList<CustomerCsvProblem> Problems, string? FileError = null, string? FileErrorDetail = null)
{
    /// <summary>The data records the file holds (rows and problems), also when it is refused for holding too many.</summary>
    public int Records { get; init; }

    public static CustomerCsvFile Refused(string code, string detail, int records = 0) => new([], [], code, detail) { Records = records };
}

/// <summary>
/// Reads a customer import file: UTF-8 (a byte order mark allowed), RFC 4180 fields (commas, double quotes around a
/// field that holds a comma, quote or line break, a quote doubled inside), a header row naming the columns
/// reference, email, firstName, lastName and optionally status, in any order and any case. Empty lines are skipped.
/// An empty cell is an empty name or, for status, no status (a new customer is active, an existing one keeps its own).
/// Whole-file refusals: <c>csv_not_utf8</c>, <c>csv_empty</c>, <c>csv_header</c>, <c>csv_too_many_rows</c>, <c>csv_unterminated_quote</c>.
/// </summary>
public static class CustomerCsv
{
    public const string NotUtf8 = "csv_not_utf8";
    public const string Empty = "csv_empty";
    public const string BadHeader = "csv_header";
    public const string TooManyRows = "csv_too_many_rows";
    public const string UnterminatedQuote = "csv_unterminated_quote";

    public static readonly string[] Required = ["reference", "email", "firstName", "lastName"];
    public const string StatusColumn = "status";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static CustomerCsvFile Parse(ReadOnlySpan<byte> bytes, int maxRows)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes);
        }
        catch (DecoderFallbackException e)
        {
            return CustomerCsvFile.Refused(NotUtf8, $"The file is not UTF-8 text (an invalid byte at position {e.Index}). Save it as CSV UTF-8 and upload it again.");
        }

        var records = Records(text, out var unterminatedAt);
        if (unterminatedAt is { } line)
        {
            return CustomerCsvFile.Refused(UnterminatedQuote, $"A quoted field that starts on line {line} never ends.");
        }

        if (records.Count == 0)
        {
            return CustomerCsvFile.Refused(Empty, "The file is empty: it needs a header row and at least one customer.");
        }

        var (header, _) = records[0];
        var columns = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var expected = string.Join(",", Required) + "[," + StatusColumn + "]";
        for (var i = 0; i < header.Count; i++)
        {
            var name = header[i].Trim();
            var known = Required.Concat([StatusColumn]).FirstOrDefault(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase));
            if (known is null || !columns.TryAdd(known, i))
            {
                return CustomerCsvFile.Refused(BadHeader, $"The header row must name the columns {expected}; column {i + 1} is '{name}'.");
            }
        }

        if (Required.FirstOrDefault(c => !columns.ContainsKey(c)) is { } missing)
        {
            return CustomerCsvFile.Refused(BadHeader, $"The header row must name the columns {expected}; '{missing}' is missing.");
        }

        if (records.Count - 1 > maxRows)
        {
            return CustomerCsvFile.Refused(TooManyRows, $"An import takes at most {maxRows} rows; this file has {records.Count - 1}. Split it into smaller files.", records.Count - 1);
        }

        if (records.Count == 1)
        {
            return CustomerCsvFile.Refused(Empty, "The file has a header row but no customer.");
        }

        var rows = new List<CustomerCsvRow>(records.Count - 1);
        var problems = new List<CustomerCsvProblem>();
        foreach (var (fields, start) in records.Skip(1))
        {
            if (fields.Count != header.Count)
            {
                problems.Add(new CustomerCsvProblem(start, "row", $"The row has {fields.Count} fields; the header has {header.Count}."));
                continue;
            }

            string? Cell(string column) => columns.TryGetValue(column, out var index) ? fields[index] : null;
            rows.Add(new CustomerCsvRow(start, Cell("reference"), Cell("email"), Cell("firstName"), Cell("lastName"),
                string.IsNullOrWhiteSpace(Cell(StatusColumn)) ? null : Cell(StatusColumn)));
        }

        return new CustomerCsvFile(rows, problems) { Records = records.Count - 1 };
    }

    /// <summary>The records of the text with the line each starts on; lines holding nothing are skipped.</summary>
    private static List<(List<string> Fields, int Line)> Records(string text, out int? unterminatedAt)
    {
        unterminatedAt = null;
        var records = new List<(List<string>, int)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1, i = 0;
        var quoted = false;
        var touched = false; // the record has a character, a comma or a quote: an empty line does not

        void EndRecord()
        {
            if (touched)
            {
                fields.Add(field.ToString());
                records.Add((fields, start));
            }

            fields = [];
            field.Clear();
            touched = false;
        }

        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i += 2;
                    continue;
                }

                if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    if (c == '\n')
                    {
                        line++;
                    }

                    field.Append(c);
                }

                i++;
                continue;
            }

            switch (c)
            {
                case '"' when field.Length == 0:
                    if (!touched)
                    {
                        start = line;
                    }

                    quoted = true;
                    touched = true;
                    break;
                case ',':
                    if (!touched)
                    {
                        start = line;
                    }

                    fields.Add(field.ToString());
                    field.Clear();
                    touched = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRecord();
                    line++;
                    break;
                default:
                    if (!touched)
                    {
                        start = line;
                    }

                    field.Append(c);
                    touched = true;
                    break;
            }

            i++;
        }

        if (quoted)
        {
            unterminatedAt = start;
            return records;
        }

        EndRecord();
        return records;
    }
}
