using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Tessera.Core.Common;

namespace Tessera.Server.Http;

/// <summary>
/// Requests are read strictly: what Tessera does not understand is refused with a 400 that names it,
/// never ignored and never left to fail deeper as a 500.
/// <list type="bullet">
/// <item>JSON bodies: a member the endpoint does not know is <c>unknown_field</c>, a member given twice is
/// <c>duplicate_field</c>; a null element of a list whose elements may not be null, a control character in
/// a string, or text that is not valid Unicode is <c>validation_failed</c>. Every finding is one entry of
/// <c>errors</c>, keyed by its path in the body (<c>privileges[0]</c>, <c>rules[1].resource</c>).</item>
/// <item>Query strings, and the forms of the Back Office pages: a control character in any name or value is
/// <c>validation_failed</c>, with the parameter as the key of <c>errors</c>.</item>
/// </list>
/// Control characters are Unicode's Cc category: C0 (NUL, TAB, CR, LF ...), DEL and C1. Descriptions are the
/// one kind of free text that may span lines, and a PEM public key is lines by its format, so a member or form field named
/// <c>description</c>, <c>pem</c>, <c>jwk</c> or <c>publicKey</c> may hold TAB, CR and LF, and no other. <c>returnUrl</c> is never refused: whatever is not a clean local path
/// becomes "/" (<see cref="SignIn.SignInEndpoints.LocalOnly"/>). The OAuth endpoints answer in OAuth's
/// format instead (<see cref="SignIn.RefuseControlCharacters{TContext}"/>).
/// </summary>
/// <remarks>
/// The JSON check runs before binding, over the body parsed once more against the endpoint's request type,
/// so that one answer names every unknown member, not only the first the deserializer meets. The serializer
/// is configured strictly as well (<see cref="AddTesseraStrictJson"/>): it refuses the same unknown and
/// duplicate members on any path this check does not cover, and <see cref="ClientErrorExceptionHandler"/>
/// turns its exceptions into 400s.
/// </remarks>
public static class StrictRequests
{
    /// <summary>At most this many findings are listed; a body full of mistakes still gets a bounded answer.</summary>
    public const int MaxErrors = 100;

    public static IServiceCollection AddTesseraStrictJson(this IServiceCollection services)
        => services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.AllowDuplicateProperties = false;
        });

    /// <summary>After routing and authorization: a caller without access learns nothing about the shape of a request.</summary>
    public static IApplicationBuilder UseStrictRequests(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        return app.Use(async (context, next) =>
        {
            // Forms are read by the Back Office pages only; the API takes JSON (a form sent there is a 415, unread).
            var pages = context.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Mvc.Abstractions.ActionDescriptor>() is not null;
            var failure = CheckQuery(context.Request.Query)
                ?? (context.Request.Headers.TryGetValue(Governance.ChangeRequestReason.Header, out var reason)
                    ? Governance.ChangeRequestReason.Problem(Governance.ChangeRequestReason.Header, reason.ToString()) : null)
                ?? (pages ? await CheckFormAsync(context.Request) : null)
                ?? await CheckJsonBodyAsync(context, options);
            if (failure is not null)
            {
                await Problems.From(failure).ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }

    /// <summary>True when <paramref name="value"/> holds a control character that its field may not hold.</summary>
    public static bool HasControlCharacter(string value, bool multiLine = false)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c) && !(multiLine && c is '\t' or '\r' or '\n'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="text"/> holds half a surrogate pair: no valid Unicode, and PostgreSQL refuses it.</summary>
    public static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Descriptions are the free text that may span lines; a PEM key (in "pem", "jwk" or a page's "publicKey") has lines by nature.</summary>
    public static bool IsMultiLine(string field)
    {
        var name = field.AsSpan(field.LastIndexOf('.') + 1);
        return name.Equals("description", StringComparison.OrdinalIgnoreCase)
            || name.Equals("pem", StringComparison.OrdinalIgnoreCase)
            || name.Equals("jwk", StringComparison.OrdinalIgnoreCase)
            || name.Equals("publicKey", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Return addresses are cleaned, not refused (see <see cref="SignIn.SignInEndpoints.LocalOnly"/>).</summary>
    private static bool IsCleanedElsewhere(string field) => field.Equals("returnUrl", StringComparison.OrdinalIgnoreCase);

    private static string ControlMessage(bool multiLine)
        => multiLine ? "may hold tabs and line breaks but no other control characters." : "must not contain control characters (NUL, CR, LF, TAB and the like).";

    private static Failure? CheckQuery(IQueryCollection query)
    {
        Dictionary<string, string[]>? errors = null;
        foreach (var (key, values) in query)
        {
            if (IsCleanedElsewhere(key))
            {
                continue;
            }

            if (HasControlCharacter(key) || values.Any(v => v is not null && HasControlCharacter(v)))
            {
                (errors ??= [])[Printable(key)] = [$"The query parameter {ControlMessage(false)}"];
            }
        }

        return errors is null ? null : Invalid("The query string holds control characters.", errors);
    }

    /// <summary>
    /// The form's fields that hold control characters, as a 400; null for a clean form or no form. ASP.NET Core's form
    /// reader itself refuses some (NUL), and then the buffered body is read once more, leniently, to name the fields.
    /// </summary>
    public static async Task<Failure?> CheckFormAsync(HttpRequest request)
    {
        if (!request.HasFormContentType)
        {
            return null;
        }

        request.EnableBuffering();
        IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> fields;
        try
        {
            fields = await request.ReadFormAsync(request.HttpContext.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // IOException: a multipart body cut short or not multipart at all.
            if (await ReadRawFormAsync(request) is not { } raw)
            {
                return Failure.Invalid("invalid_request", $"The form could not be read: {e.Message}");
            }

            fields = raw;
        }

        Dictionary<string, string[]>? errors = null;
        foreach (var (key, values) in fields)
        {
            if (IsCleanedElsewhere(key))
            {
                continue;
            }

            var multiLine = IsMultiLine(key);
            if (HasControlCharacter(key) || values.Any(v => v is not null && HasControlCharacter(v, multiLine)))
            {
                (errors ??= [])[Printable(key)] = [$"The field {ControlMessage(multiLine)}"];
            }
        }

        return errors is null ? null : Invalid("The form holds control characters.", errors);
    }

    /// <summary>An url-encoded body of modest size, parsed without the form reader's refusals; null for anything else.</summary>
    private static async Task<Dictionary<string, Microsoft.Extensions.Primitives.StringValues>?> ReadRawFormAsync(HttpRequest request)
    {
        const int limit = 1 << 20;
        if (!request.Body.CanSeek || request.Body.Length > limit
            || !string.Equals(request.ContentType?.Split(';')[0].Trim(), "application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        request.Body.Position = 0;
        using var reader = new StreamReader(request.Body, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        var text = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
        request.Body.Position = 0;
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseNullableQuery(text);
    }

    /// <summary>A name as it can be shown: its control characters as \uXXXX.</summary>
    private static string Printable(string name)
        => string.Concat(name.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static async Task<Failure?> CheckJsonBodyAsync(HttpContext context, JsonSerializerOptions options)
    {
        var request = context.Request;
        var type = context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        if (type is null || !request.HasJsonContentType())
        {
            return null;
        }

        // Buffered, so that binding reads the body again after this check.
        request.EnableBuffering();
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = options.MaxDepth == 0 ? 64 : options.MaxDepth }, context.RequestAborted);
        }
        catch (JsonException)
        {
            // Not JSON at all: binding fails on it too, and says where (ClientErrorExceptionHandler).
            request.Body.Position = 0;
            return null;
        }

        using (document)
        {
            request.Body.Position = 0;
            if (TakeReason(context, document.RootElement, type, options) is { } reason)
            {
                if (!reason.Succeeded)
                {
                    return reason.Failure;
                }

                using var rest = reason.Value!;
                return new JsonBodyCheck(options).Check(rest.RootElement, type);
            }

            return new JsonBodyCheck(options).Check(document.RootElement, type);
        }
    }

    /// <summary>
    /// A maker's <c>reason</c> member, on the body of any endpoint whose request has no member of that name: kept for a
    /// change request (<see cref="Governance.ChangeRequestReason"/>), and taken out of the body that binding reads, so
    /// that no request type needs to declare it. Null when the body has none; a failure when it is not a short string.
    /// </summary>
    private static Outcome<JsonDocument>? TakeReason(HttpContext context, JsonElement root, Type type, JsonSerializerOptions options)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var comparison = options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var member = Governance.ChangeRequestReason.Member;
        if (!root.EnumerateObject().Any(p => string.Equals(p.Name, member, comparison)))
        {
            return null;
        }

        JsonTypeInfo? info;
        try
        {
            info = options.GetTypeInfo(type);
        }
        catch (NotSupportedException)
        {
            return null;
        }

        if (info.Kind != JsonTypeInfoKind.Object || info.Properties.Any(p => string.Equals(p.Name, member, comparison)))
        {
            return null;
        }

        var values = root.EnumerateObject().Where(p => string.Equals(p.Name, member, comparison)).ToList();
        if (values.Count > 1)
        {
            return null;
        }

        if (values[0].Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return Outcome<JsonDocument>.Fail(Failure.Invalid("validation_failed", "reason must be a string.",
                new Dictionary<string, string[]> { [member] = ["must be a string."] }));
        }

        var reason = values[0].Value.GetString() ?? "";
        if (Governance.ChangeRequestReason.Problem(member, reason) is { } problem)
        {
            return Outcome<JsonDocument>.Fail(problem);
        }

        Governance.ChangeRequestReason.Set(context, reason);
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject().Where(p => !string.Equals(p.Name, member, comparison)))
            {
                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        buffer.Position = 0;
        context.Request.Body = buffer;
        context.Request.ContentLength = buffer.Length;
        context.Response.RegisterForDispose(buffer);
        return Outcome<JsonDocument>.Ok(JsonDocument.Parse(buffer.ToArray()));
    }

    internal static Failure Invalid(string detail, Dictionary<string, string[]> errors)
        => Failure.Invalid("validation_failed", detail, errors);
}

/// <summary>
/// Walks a JSON body beside the serializer's contract of the type it binds to, and collects every unknown or
/// repeated member, null list element, control character and broken surrogate, keyed by path.
/// </summary>
/// <remarks>
/// It runs on every JSON request, a batch of a thousand checks included, so a clean body costs no more than the
/// walk: the path is kept in one buffer and made a string only for a finding, members of the contract are matched
/// and told apart without making their names strings, and a string is decoded only when its raw bytes could hold
/// what is refused.
/// </remarks>
internal sealed class JsonBodyCheck(JsonSerializerOptions options)
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<System.Reflection.PropertyInfo, bool> NullableElements = new();

    private readonly List<string> _unknown = [];
    private readonly List<string> _duplicates = [];
    private readonly Dictionary<string, string[]> _errors = [];
    private readonly System.Text.StringBuilder _path = new();
    private int _findings;

    private StringComparer Names => options.PropertyNameCaseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    public Failure? Check(JsonElement root, Type type)
    {
        Walk(root, TypeInfo(type), multiLine: false, nullableElements: false);
        if (_findings == 0)
        {
            return null;
        }

        var more = _findings > StrictRequests.MaxErrors ? $" ({_findings - StrictRequests.MaxErrors} more not listed)" : "";
        if (_unknown.Count > 0)
        {
            return Failure.Invalid("unknown_field",
                $"This endpoint does not know the member{(_unknown.Count == 1 ? "" : "s")} {Quote(_unknown)}: check the spelling against the API reference.{more}", _errors);
        }

        if (_duplicates.Count > 0)
        {
            return Failure.Invalid("duplicate_field", $"The body gives {Quote(_duplicates)} more than once; give each member once.{more}", _errors);
        }

        return Failure.Invalid("validation_failed", string.Join(" ", _errors.Select(e => $"{e.Key}: {e.Value[0]}")) + more, _errors);
    }

    private static string Quote(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    private JsonTypeInfo? TypeInfo(Type type)
    {
        try
        {
            return options.GetTypeInfo(type);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    // The path of what is being walked: "", "name", "rules[0].action". Push returns the length to go back to.
    private int Push(string member)
    {
        var mark = _path.Length;
        if (mark > 0)
        {
            _path.Append('.');
        }

        _path.Append(member);
        return mark;
    }

    private int Push(int index)
    {
        var mark = _path.Length;
        _path.Append('[').Append(index).Append(']');
        return mark;
    }

    private void Pop(int mark) => _path.Length = mark;

    /// <summary>A finding about the member <paramref name="member"/> of what is being walked.</summary>
    private void AddAt(string member, string message, List<string> list)
    {
        var mark = Push(member);
        Add(message, list);
        Pop(mark);
    }

    private void Add(string message, List<string>? list = null)
    {
        _findings++;
        var listed = list is not null && list.Count < StrictRequests.MaxErrors;
        if (_errors.Count >= StrictRequests.MaxErrors && !listed)
        {
            return;
        }

        var path = _path.ToString();
        if (_errors.Count < StrictRequests.MaxErrors)
        {
            _errors[path.Length == 0 ? "$" : path] = [message];
        }

        if (listed)
        {
            list!.Add(path);
        }
    }

    private void Walk(JsonElement element, JsonTypeInfo? info, bool multiLine, bool nullableElements)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                WalkObject(element, info);
                break;
            case JsonValueKind.Array:
                var elementInfo = info is { Kind: JsonTypeInfoKind.Enumerable, ElementType: { } elementType } ? TypeInfo(elementType) : null;
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    var mark = Push(index++);
                    if (item.ValueKind == JsonValueKind.Null && elementInfo is not null && !nullableElements)
                    {
                        Add("must not be null.");
                    }
                    else
                    {
                        Walk(item, elementInfo, multiLine, nullableElements: false);
                    }

                    Pop(mark);
                }

                break;
            case JsonValueKind.String:
                if (IsPlainText(element))
                {
                    break;
                }

                string text;
                try
                {
                    text = element.GetString()!;
                }
                catch (InvalidOperationException)
                {
                    Add("is not valid Unicode text (it holds a lone surrogate).");
                    break;
                }

                if (StrictRequests.HasControlCharacter(text, multiLine))
                {
                    Add(multiLine ? "may hold tabs and line breaks but no other control characters." : "must not contain control characters (NUL, CR, LF, TAB and the like).");
                }
                else if (StrictRequests.HasLoneSurrogate(text))
                {
                    Add("is not valid Unicode text (it holds a lone surrogate).");
                }

                break;
        }
    }

    /// <summary>
    /// True when a string's raw bytes show it holds no control character and no broken surrogate, without decoding
    /// it: valid UTF-8 with no escape (JSON writes C0 controls and surrogates only as escapes), no DEL, and no lead
    /// byte 0xC2 (C1 controls are C2 80 to C2 9F). Anything else is decoded and looked at character by character.
    /// </summary>
    private static bool IsPlainText(JsonElement element)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element);
        return raw.IndexOfAny((byte)'\\', (byte)0x7F, (byte)0xC2) < 0 && System.Text.Unicode.Utf8.IsValid(raw);
    }

    private void WalkObject(JsonElement element, JsonTypeInfo? info)
    {
        var properties = info?.Kind == JsonTypeInfoKind.Object ? info.Properties : null;

        // Members of the contract are matched without making their names strings when spelled as the contract spells
        // them, and a member matched twice is a repeat (names that differ only in case match the same member when the
        // contract ignores case, as the serializer does). Only other names (unknown members, the keys of a dictionary
        // or of free-form JSON, members past a contract's 64th) are kept, in a set made when the first one comes.
        var matched = 0UL;
        HashSet<string>? seen = null;
        foreach (var member in element.EnumerateObject())
        {
            string? name = null;
            var index = -1;
            if (properties is not null)
            {
                index = IndexOf(properties, member);
                if (index < 0)
                {
                    name = member.Name;
                    index = IndexOf(properties, name);
                }
            }

            bool repeated;
            if (index is >= 0 and < 64)
            {
                repeated = (matched & (1UL << index)) != 0;
                matched |= 1UL << index;
            }
            else
            {
                name ??= member.Name;
                repeated = !(seen ??= new HashSet<string>(Names)).Add(name);
            }

            if (repeated)
            {
                AddAt(name ?? member.Name, "is given more than once.", _duplicates);
                continue;
            }

            if (properties is not null && index < 0)
            {
                AddAt(name!, "is not a member of this request.", _unknown);
                continue;
            }

            var value = member.Value;
            int mark;
            if (properties is not null)
            {
                // Keys in the member's own spelling (camelCase), whatever case the caller used.
                var property = properties[index];
                mark = Push(property.Name);
                var nested = value.ValueKind is JsonValueKind.Object or JsonValueKind.Array;
                Walk(value, nested ? TypeInfo(property.PropertyType) : null, StrictRequests.IsMultiLine(property.Name),
                    value.ValueKind == JsonValueKind.Array && NullableElementsOf(property));
            }
            else
            {
                // A dictionary's values by its value type; free-form JSON (a JsonElement member) has no contract to
                // hold it to, but the same text rules.
                mark = Push(name!);
                var valueInfo = info?.Kind == JsonTypeInfoKind.Dictionary && info.ElementType is { } valueType ? TypeInfo(valueType) : null;
                Walk(value, valueInfo, multiLine: false, nullableElements: false);
            }

            Pop(mark);
        }
    }

    /// <summary>The contract member a name matches exactly, the usual case, read without making it a string; -1 for none.</summary>
    private static int IndexOf(IList<JsonPropertyInfo> properties, JsonProperty member)
    {
        for (var i = 0; i < properties.Count; i++)
        {
            if (member.NameEquals(properties[i].Name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The contract member a name matches in the serializer's comparison (ignoring case, when it does); -1 for none.</summary>
    private int IndexOf(IList<JsonPropertyInfo> properties, string name)
    {
        for (var i = 0; i < properties.Count; i++)
        {
            if (Names.Equals(properties[i].Name, name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A list declared with nullable elements (<c>List&lt;Row?&gt;</c>) takes nulls on purpose; every other refuses them.</summary>
    private static bool NullableElementsOf(JsonPropertyInfo property)
        => property.AttributeProvider is System.Reflection.PropertyInfo reflected && NullableElements.GetOrAdd(reflected, static p =>
        {
            var nullability = new System.Reflection.NullabilityInfoContext().Create(p);
            var element = nullability.ElementType ?? (nullability.GenericTypeArguments.Length == 1 ? nullability.GenericTypeArguments[0] : null);
            return element?.ReadState == System.Reflection.NullabilityState.Nullable;
        });
}
