using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Core.Governance;

namespace Tessera.Server.Governance;

/// <summary>
/// A role to hold, with an optional validity: in a request either a bare role name (<c>"Auditor"</c>, held for
/// good) or an object (<c>{"name":"Teller","validFrom":"…","validUntil":"…"}</c>). Written always as the object.
/// </summary>
[JsonConverter(typeof(RoleAssignmentConverter))]
public sealed record RoleAssignment(string Name, DateTime? ValidFrom = null, DateTime? ValidUntil = null)
{
    [JsonIgnore]
    public Validity Validity => new(ValidFrom, ValidUntil);

    public static implicit operator RoleAssignment(string name) => new(name);
}

/// <summary>
/// A group member, with an optional validity: either a bare user id (<c>"0193…"</c>) or an object
/// (<c>{"id":"0193…","validUntil":"…"}</c>), the same shape as <see cref="RoleAssignment"/>.
/// </summary>
[JsonConverter(typeof(MemberAssignmentConverter))]
public sealed record MemberAssignment(Guid Id, DateTime? ValidFrom = null, DateTime? ValidUntil = null)
{
    [JsonIgnore]
    public Validity Validity => new(ValidFrom, ValidUntil);

    public static implicit operator MemberAssignment(Guid id) => new(id);
}

/// <summary>Reads a string or an object; the instants are read as UTC (an offset is converted, none means UTC).</summary>
internal abstract class AssignmentConverter<T> : JsonConverter<T>
{
    protected abstract string KeyName { get; }

    protected abstract T FromKey(string key, ref Utf8JsonReader reader);

    protected abstract T With(T value, DateTime? from, DateTime? until);

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return FromKey(reader.GetString()!, ref reader);
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"Each entry must be a string or an object with '{KeyName}'.");
        }

        string? key = null;
        DateTime? from = null, until = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var property = reader.GetString();
            reader.Read();
            switch (property)
            {
                case var p when string.Equals(p, KeyName, StringComparison.OrdinalIgnoreCase):
                    key = reader.TokenType == JsonTokenType.String ? reader.GetString() : throw new JsonException($"'{KeyName}' must be a string.");
                    break;
                case var p when string.Equals(p, "validFrom", StringComparison.OrdinalIgnoreCase):
                    from = Instant(ref reader, "validFrom");
                    break;
                case var p when string.Equals(p, "validUntil", StringComparison.OrdinalIgnoreCase):
                    until = Instant(ref reader, "validUntil");
                    break;
                default:
                    throw new JsonException($"Unknown member '{property}'; an entry has '{KeyName}', 'validFrom' and 'validUntil'.");
            }
        }

        if (key is null)
        {
            throw new JsonException($"An entry needs '{KeyName}'.");
        }

        return With(FromKey(key, ref reader), from, until);
    }

    private static DateTime? Instant(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var instant))
        {
            // To whole microseconds, as PostgreSQL keeps it: the range read back equals the range sent, so sending it
            // again is no change.
            var utc = instant.UtcDateTime;
            return new DateTime(utc.Ticks - utc.Ticks % 10, DateTimeKind.Utc);
        }

        throw new JsonException($"'{name}' must be an ISO 8601 instant, such as 2027-01-31T00:00:00Z.");
    }

    protected static void WriteValidity(Utf8JsonWriter writer, DateTime? from, DateTime? until)
    {
        writer.WritePropertyName("validFrom");
        if (from is { } f) writer.WriteStringValue(DateTime.SpecifyKind(f, DateTimeKind.Utc)); else writer.WriteNullValue();
        writer.WritePropertyName("validUntil");
        if (until is { } u) writer.WriteStringValue(DateTime.SpecifyKind(u, DateTimeKind.Utc)); else writer.WriteNullValue();
    }
}

internal sealed class RoleAssignmentConverter : AssignmentConverter<RoleAssignment>
{
    protected override string KeyName => "name";

    protected override RoleAssignment FromKey(string key, ref Utf8JsonReader reader) => new(key);

    protected override RoleAssignment With(RoleAssignment value, DateTime? from, DateTime? until) => value with { ValidFrom = from, ValidUntil = until };

    public override void Write(Utf8JsonWriter writer, RoleAssignment value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("name", value.Name);
        WriteValidity(writer, value.ValidFrom, value.ValidUntil);
        writer.WriteEndObject();
    }
}

internal sealed class MemberAssignmentConverter : AssignmentConverter<MemberAssignment>
{
    protected override string KeyName => "id";

    protected override MemberAssignment FromKey(string key, ref Utf8JsonReader reader)
        => Guid.TryParse(key, out var id) ? new MemberAssignment(id) : throw new JsonException($"'{key}' is not a user id.");

    protected override MemberAssignment With(MemberAssignment value, DateTime? from, DateTime? until) => value with { ValidFrom = from, ValidUntil = until };

    public override void Write(Utf8JsonWriter writer, MemberAssignment value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("id", value.Id);
        WriteValidity(writer, value.ValidFrom, value.ValidUntil);
        writer.WriteEndObject();
    }
}

/// <summary>The checks every path that sets a role grant's or membership's validity makes on its input.</summary>
public static class AssignmentInput
{
    /// <summary>
    /// The refusals of the validities in <paramref name="entries"/>, keyed by the member that carries each
    /// (<c>roles[1].validUntil</c>): <see cref="AssignmentValidity.InputProblem"/>, and two entries for the same key
    /// with different validities. Empty when all are well formed. A range that has ended is refused unless
    /// <paramref name="stored"/> says the assignment holds exactly that range already: sending back an expired
    /// assignment as it was keeps it (listed, granting nothing); it grants nothing anew.
    /// </summary>
    public static Dictionary<string, string[]> Problems<T>(IReadOnlyList<T> entries, string member, Func<T, string> key, Func<T, Validity> validity, DateTime now, Func<string, Validity?>? stored = null)
    {
        var errors = new Dictionary<string, string[]>();
        var seen = new Dictionary<string, Validity>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < entries.Count; i++)
        {
            var range = validity(entries[i]);
            var kept = range.HasLapsedAt(now) && stored?.Invoke(key(entries[i]).Trim()) == range;
            if ((kept ? range.Problem(now) : AssignmentValidity.InputProblem(range, now)) is { } problem)
            {
                // Named after the end unless only the start is wrong (a start more than ten years ahead).
                var which = range.Until is { } until && (until <= now || until <= range.From || until > now + Validity.MaxSpanAhead) ? "validUntil" : "validFrom";
                errors[$"{member}[{i}].{which}"] = [problem];
            }

            var name = key(entries[i]).Trim();
            if (seen.TryGetValue(name, out var earlier) && earlier != range)
            {
                errors[$"{member}[{i}]"] = [$"'{name}' is listed twice with different validities; list it once."];
            }

            seen.TryAdd(name, range);
        }

        return errors;
    }

    /// <summary>How a grant or membership appears in an audit event: the bare key when it holds for good, else key and range.</summary>
    public static object Audited(string key, Validity validity)
        => validity.IsBounded ? new { name = key, validFrom = validity.From, validUntil = validity.Until } : key;

    /// <summary>A member as an audit event lists it: the bare id when the membership holds for good, else id and range.</summary>
    public static object AuditedMember(Guid id, Validity validity)
        => validity.IsBounded ? new { id, validFrom = validity.From, validUntil = validity.Until } : id;
}
