using Tessera.Core.Customers;

namespace Tessera.Server.Customers;

/// <summary>A problem of one line of an import file: the file line (the header is line 1), the field ("row" for the whole record) and why.</summary>
public sealed record CsvLineProblem(int Line, string Field, string Message);

/// <summary>
/// What importing a CSV file would do, nothing written: the rows as the import takes them, every line's problems,
/// and the counts it would create, update and leave unchanged. <see cref="FileError"/> refuses the whole file.
/// </summary>
public sealed record CsvImportPreview(
    string? FileError,
    string? FileErrorDetail,
    int Records,
    IReadOnlyList<CreateCustomerRequest> Rows,
    IReadOnlyList<CsvLineProblem> Problems,
    int Created,
    int Updated,
    int Unchanged)
{
    /// <summary>The file may be imported as it is: no refusal, no problem.</summary>
    public bool Importable => FileError is null && Problems.Count == 0 && Rows.Count > 0;
}

/// <summary>
/// The Back Office's customer file import, first step: read the file (Core's <see cref="CustomerCsv"/>), then ask the
/// import use case what it would do with the rows (<see cref="CustomerService.PreviewImportAsync"/>, the same checks as
/// the write). The write itself goes through <see cref="CustomerService.ImportAsync"/> in chunks, each checked again.
/// </summary>
public sealed class CustomerCsvImport(CustomerService customers)
{
    /// <summary>The largest file read: 10,000 rows of generous width.</summary>
    public const long MaxFileBytes = 8 * 1024 * 1024;

    public async Task<CsvImportPreview> PreviewAsync(ReadOnlyMemory<byte> file, CancellationToken ct)
    {
        var parsed = CustomerCsv.Parse(file.Span, CustomerService.MaxImportRows);
        if (parsed.FileError is { } error)
        {
            return new CsvImportPreview(error, parsed.FileErrorDetail, parsed.Records, [], [], 0, 0, 0);
        }

        var rows = parsed.Rows.Select(r => new CreateCustomerRequest(r.Reference, r.Email, r.FirstName, r.LastName, r.Status)).ToList();
        var outcome = await customers.PreviewImportAsync(rows, ct);
        if (!outcome.Succeeded)
        {
            // Only a batch over the most is refused whole, and the file reader refused that already.
            return new CsvImportPreview(outcome.Failure!.Code, outcome.Failure.Detail, parsed.Records, [], [], 0, 0, 0);
        }

        var preview = outcome.Value!;
        var problems = parsed.Problems.Select(p => new CsvLineProblem(p.Line, p.Field, p.Message))
            .Concat(preview.Problems.Select(p => new CsvLineProblem(parsed.Rows[p.Index].Line, p.Field, Lines(p.Message, parsed.Rows))))
            .OrderBy(p => p.Line).ToList();
        return new CsvImportPreview(null, null, parsed.Records, rows, problems, preview.Created, preview.Updated, preview.Unchanged);
    }

    /// <summary>The batch names rows by position ("row 3"); a file's reader knows them by line.</summary>
    private static string Lines(string message, IReadOnlyList<CustomerCsvRow> rows)
        => System.Text.RegularExpressions.Regex.Replace(message, @"\(row (\d+)\)",
            m => int.TryParse(m.Groups[1].Value, out var index) && index < rows.Count ? $"(line {rows[index].Line})" : m.Value);
}
