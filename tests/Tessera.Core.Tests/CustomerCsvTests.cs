using System.Text;
using Tessera.Core.Customers;

namespace Tessera.Core.Tests;

public class CustomerCsvTests
{
    private static CustomerCsvFile Parse(string text, int max = 10) => CustomerCsv.Parse(Encoding.UTF8.GetBytes(text), max);

    [Fact]
    public void Rows_carry_their_cells_and_the_line_they_start_on()
    {
        var file = Parse("reference,email,firstName,lastName,status\r\nC-1,a@x.test,Ada,Lovelace,disabled\r\n\r\nC-2,b@x.test,,\"O'Neil, Jr.\",\n");
        Assert.Null(file.FileError);
        Assert.Empty(file.Problems);
        Assert.Equal(
            [new CustomerCsvRow(2, "C-1", "a@x.test", "Ada", "Lovelace", "disabled"), new CustomerCsvRow(4, "C-2", "b@x.test", "", "O'Neil, Jr.", null)],
            file.Rows);
    }

    [Fact]
    public void Quoted_fields_hold_quotes_and_line_breaks_and_later_rows_keep_their_file_line()
    {
        var file = Parse("Email,REFERENCE,lastName,firstName\n\"a@x.test\",C-1,\"Say \"\"hi\"\"\",\"two\nlines\"\nb@x.test,C-2,B,B\n");
        Assert.Null(file.FileError);
        Assert.Equal(new CustomerCsvRow(2, "C-1", "a@x.test", "two\nlines", "Say \"hi\"", null), file.Rows[0]);
        Assert.Equal(4, file.Rows[1].Line);
    }

    [Fact]
    public void A_byte_order_mark_is_ignored() => Assert.Null(CustomerCsv.Parse([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("reference,email,firstName,lastName\nC,a@x.test,A,B")], 10).FileError);

    [Fact]
    public void A_record_with_the_wrong_number_of_fields_is_a_problem_of_its_line()
    {
        var file = Parse("reference,email,firstName,lastName\nC-1,a@x.test,A\nC-2,b@x.test,B,B\n");
        Assert.Equal([new CustomerCsvProblem(2, "row", "The row has 3 fields; the header has 4.")], file.Problems);
        Assert.Equal("C-2", Assert.Single(file.Rows).Reference);
    }

    [Theory]
    [InlineData("", CustomerCsv.Empty)]
    [InlineData("\n\n", CustomerCsv.Empty)]
    [InlineData("reference,email,firstName,lastName\n", CustomerCsv.Empty)]
    [InlineData("reference,email,firstName\nC,a@x.test,A\n", CustomerCsv.BadHeader)]
    [InlineData("reference,email,firstName,lastName,phone\nC,a@x.test,A,B,1\n", CustomerCsv.BadHeader)]
    [InlineData("reference,email,email,firstName,lastName\nC,a,a,A,B\n", CustomerCsv.BadHeader)]
    [InlineData("C-1,a@x.test,Ada,Lovelace\n", CustomerCsv.BadHeader)]
    [InlineData("reference,email,firstName,lastName\nC,\"a@x.test,A,B\n", CustomerCsv.UnterminatedQuote)]
    public void Whole_file_refusals(string text, string code) => Assert.Equal(code, Parse(text).FileError);

    [Fact]
    public void More_rows_than_the_most_refuses_the_file_and_the_most_passes()
    {
        var header = "reference,email,firstName,lastName\n";
        string Rows(int n) => header + string.Concat(Enumerable.Range(0, n).Select(i => $"C-{i},c{i}@x.test,A,B\n"));
        Assert.Equal(CustomerCsv.TooManyRows, Parse(Rows(11)).FileError);
        Assert.Equal(11, Parse(Rows(11)).Records);
        Assert.Equal(10, Parse(Rows(10)).Rows.Count);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_refuse_the_file()
    {
        var latin1 = Encoding.Latin1.GetBytes("reference,email,firstName,lastName\nC,a@x.test,Jürgen,B\n");
        Assert.Equal(CustomerCsv.NotUtf8, CustomerCsv.Parse(latin1, 10).FileError);
    }
}
