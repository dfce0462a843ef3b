using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Tessera.Server.Access;
using Tessera.Server.Http;

namespace Tessera.Server.Tests.Http;

/// <summary>
/// The strict body check on its own, over raw UTF-8 as a client may send it: what the serializer's own writer
/// would have escaped (DEL, C1 controls) arrives here as plain bytes, and the check must still find it.
/// </summary>
public sealed class JsonBodyCheckTests
{
    private sealed record Row(string Name, string? Description, List<string>? Tags, List<Row?>? Children, Dictionary<string, string>? Labels);

    private sealed record Rows(List<Row>? Items);

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private static Core.Common.Failure? Check<T>(byte[] utf8)
    {
        using var document = JsonDocument.Parse(utf8);
        return new JsonBodyCheck(Options).Check(document.RootElement, typeof(T));
    }

    private static Core.Common.Failure? Check<T>(string json) => Check<T>(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_clean_batch_of_a_thousand_checks_passes()
    {
        var checks = string.Join(",", Enumerable.Range(0, 1000).Select(i => i % 2 == 0
            ? $$"""{"userId":"{{Guid.NewGuid()}}","privilege":"VIEW_USERS"}"""
            : $$"""{"userId":"{{Guid.NewGuid()}}","resource":"catalog.prices","action":"read"}"""));
        Assert.Null(Check<AuthorizeBatchRequest>($$"""{"checks":[{{checks}}]}"""));
    }

    [Theory]
    [InlineData("Müller")] // C3 BC: a lead byte other than C2
    [InlineData("£ 5")] // C2 A3: C2 but no control, decoded and passed
    [InlineData("tab \\\" quote")] // an escape, decoded and passed
    [InlineData("😀")] // a pair written as four bytes
    [InlineData("\\ud83d\\ude00")] // the same pair escaped
    public void Text_that_holds_no_control_character_passes_however_it_is_written(string value)
        => Assert.Null(Check<Rows>($$"""{"items":[{"name":"{{value}}","tags":["{{value}}"]}]}"""));

    [Theory]
    [InlineData(new byte[] { 0x7F }, "control")] // DEL as a raw byte
    [InlineData(new byte[] { 0xC2, 0x85 }, "control")] // NEL (C1) as raw bytes
    [InlineData(new byte[] { 0xC2, 0x9F }, "control")] // the last C1 control
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'0', (byte)'0', (byte)'0', (byte)'1' }, "control")]
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'d', (byte)'8', (byte)'0', (byte)'0' }, "surrogate")]
    public void A_control_character_or_broken_pair_is_found_and_keyed_by_its_path(byte[] inner, string kind)
    {
        var body = Encoding.UTF8.GetBytes("""{"items":[{"name":"ok"},{"name":"ok","children":[{"name":"a""")
            .Concat(inner).Concat(Encoding.UTF8.GetBytes("""b"}]}]}""")).ToArray();
        var failure = Check<Rows>(body);
        Assert.NotNull(failure);
        Assert.Equal("validation_failed", failure.Code);
        var error = Assert.Single(failure.Errors!);
        Assert.Equal("items[1].children[0].name", error.Key);
        Assert.Contains(kind, error.Value[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_description_may_hold_line_breaks_but_not_DEL()
    {
        Assert.Null(Check<Rows>("""{"items":[{"name":"a","description":"one\r\ntwo\tthree"}]}"""));
        var failure = Check<Rows>(Encoding.UTF8.GetBytes("""{"items":[{"name":"a","description":"one""").Append((byte)0x7F)
            .Concat(Encoding.UTF8.GetBytes("\"}]}")).ToArray());
        Assert.Equal("items[0].description", Assert.Single(failure!.Errors!).Key);
    }

    [Fact]
    public void Repeats_and_unknown_members_are_named_at_any_depth_and_in_large_objects()
    {
        var labels = string.Join(",", Enumerable.Range(0, 20).Select(i => $"\"k{i}\":\"v\""));
        var failure = Check<Rows>("""{"items":[{"name":"a","Name":"b"},{"name":"c","children":[null,{"name":"d","nmae":"e","labels":{"""
            + labels + ""","k17":"again"}}]}]}""");
        Assert.NotNull(failure);
        Assert.Equal("unknown_field", failure.Code);
        Assert.Equal(
            new[] { "items[0].Name", "items[1].children[1].labels.k17", "items[1].children[1].nmae" },
            failure.Errors!.Keys.Order(StringComparer.Ordinal));
        // children[0] is null in a list of nullable rows: no finding of its own.
    }

    [Fact]
    public void A_repeat_in_one_object_is_not_confused_with_the_same_name_in_its_neighbours_or_parents()
        => Assert.Null(Check<Rows>("""{"items":[{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]},{"name":"d"}]}"""));
}
