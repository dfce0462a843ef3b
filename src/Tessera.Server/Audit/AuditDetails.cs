using System.Text.Json;

namespace Tessera.Server.Audit;

/// <summary>One line of an audit event's details: a field and its value before and after, or its value alone (<see cref="Changed"/> false).</summary>
public sealed record AuditDetailRow(string Field, string? Before, string? After, bool Changed);

/// <summary>
/// Reads an audit event's details (a JSON object) as a person does: the shapes the use cases write are
/// <c>{"from": …, "to": …}</c> (a list or a value replaced), <c>{"before": {…}, "after": {…}}</c> (an object replaced: one
/// row per member that differs), and members that are themselves <c>{"from", "to"}</c> (the fields of a user changed).
/// Every other member is a row of its own value. Details that are not an object come back as one row.
/// </summary>
public static class AuditDetails
{
    public const string None = "—";

    public static IReadOnlyList<AuditDetailRow> Rows(string? details)
    {
        if (string.IsNullOrWhiteSpace(details))
        {
            return [];
        }

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(details).RootElement;
        }
        catch (JsonException)
        {
            return [new AuditDetailRow("", null, details, false)];
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return [new AuditDetailRow("", null, Text(root), false)];
        }

        var rows = new List<AuditDetailRow>();
        var replaced = FromTo(root) is not null;
        if (FromTo(root) is var (from, to))
        {
            rows.Add(new AuditDetailRow("", Text(from), Text(to), true));
        }

        var compared = root.TryGetProperty("before", out var before) & root.TryGetProperty("after", out var after)
            && before.ValueKind == JsonValueKind.Object && after.ValueKind == JsonValueKind.Object;
        if (compared)
        {
            var names = before.EnumerateObject().Select(p => p.Name).Concat(after.EnumerateObject().Select(p => p.Name)).Distinct(StringComparer.Ordinal);
            foreach (var name in names)
            {
                var old = before.TryGetProperty(name, out var o) ? o : default;
                var now = after.TryGetProperty(name, out var n) ? n : default;
                if (Raw(old) != Raw(now))
                {
                    rows.Add(new AuditDetailRow(name, Text(old), Text(now), true));
                }
            }
        }

        foreach (var member in root.EnumerateObject())
        {
            if ((replaced && member.Name is "from" or "to") || (compared && member.Name is "before" or "after"))
            {
                continue;
            }

            rows.Add(member.Value.ValueKind == JsonValueKind.Object && FromTo(member.Value) is var (f, t)
                ? new AuditDetailRow(member.Name, Text(f), Text(t), true)
                : new AuditDetailRow(member.Name, null, Text(member.Value), false));
        }

        return rows;
    }

    private static (JsonElement From, JsonElement To)? FromTo(JsonElement value)
        => value.TryGetProperty("from", out var from) && value.TryGetProperty("to", out var to) ? (from, to) : null;

    private static string Raw(JsonElement value) => value.ValueKind == JsonValueKind.Undefined ? "" : value.GetRawText();

    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => None,
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array => value.GetArrayLength() == 0 ? None : string.Join(", ", value.EnumerateArray().Select(Text)),
        JsonValueKind.Object => Named(value) ?? string.Join("; ", value.EnumerateObject().Select(p => $"{p.Name}: {Text(p.Value)}")),
        _ => value.GetRawText(),
    };

    /// <summary>A role or membership with its validity, "Teller (until 2027-01-31T00:00:00Z)"; null for other objects.</summary>
    private static string? Named(JsonElement value)
    {
        if (!value.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var rest = value.EnumerateObject().Where(p => p.Name != "name" && p.Value.ValueKind != JsonValueKind.Null).Select(p => $"{p.Name} {Text(p.Value)}").ToList();
        return rest.Count == 0 ? name.GetString() : $"{name.GetString()} ({string.Join(", ", rest)})";
    }
}
