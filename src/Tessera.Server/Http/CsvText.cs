namespace Tessera.Server.Http;

/// <summary>How every CSV export of Tessera writes a cell (the access report, the audit log).</summary>
public static class CsvText
{
    /// <summary>RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled.</summary>
    public static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        // A leading =, +, - or @ would make a spreadsheet run the cell as a formula: such a value is quoted with an
        // apostrophe before it, as OWASP advises for CSV exports.
        var formula = value[0] is '=' or '+' or '-' or '@';
        if (!formula && value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            return value;
        }

        return "\"" + (formula ? "'" : "") + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}
