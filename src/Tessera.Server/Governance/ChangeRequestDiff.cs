using System.Globalization;
using System.Text.Json;

namespace Tessera.Server.Governance;

/// <summary>One readable line of what a change request would change: a heading, and its additions, removals and changed values.</summary>
public sealed record DiffLine(string Kind, string Text);

/// <summary>One audit event of a change request's preview, as the Approvals page shows it.</summary>
public sealed record DiffBlock(string Heading, IReadOnlyList<DiffLine> Lines);

/// <summary>
/// Turns a change request's preview (the audit events the change writes when it applies) into what a checker reads:
/// lists that change as additions and removals (<c>from</c>/<c>to</c>, <c>added</c>/<c>removed</c>), objects that change
/// as "before → after" per member, anything else as its values. Ids of users and roles are shown by their names when
/// the page knows them; validities as "(from … until …)".
/// </summary>
public static class ChangeRequestDiff
{
    public static IReadOnlyList<DiffBlock> Of(ChangeRequestResponse request, IReadOnlyDictionary<Guid, string> names)
        => [.. request.Preview.Select(e => new DiffBlock(Heading(e, names), Lines(e.Details, names)))];

    /// <summary>Every id the preview names, for the page to look up once.</summary>
    public static IEnumerable<Guid> Ids(ChangeRequestResponse request)
    {
        foreach (var e in request.Preview)
        {
            if (e.Target.Id is { } id)
            {
                yield return id;
            }

            if (e.Details is { } details)
            {
                foreach (var found in IdsIn(details))
                {
                    yield return found;
                }
            }
        }
    }

    private static IEnumerable<Guid> IdsIn(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String when Guid.TryParse(element.GetString(), out var id):
                yield return id;
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray().SelectMany(IdsIn))
                {
                    yield return item;
                }

                break;
            case JsonValueKind.Object:
                foreach (var item in element.EnumerateObject().SelectMany(p => IdsIn(p.Value)))
                {
                    yield return item;
                }

                break;
        }
    }

    private static string Heading(ChangeRequestEvent e, IReadOnlyDictionary<Guid, string> names)
    {
        var target = e.Target.Name ?? (e.Target.Id is { } id ? names.GetValueOrDefault(id) ?? id.ToString() : null);
        var what = e.Action switch
        {
            "user.roles_changed" => "Roles of",
            "user.deleted" => "Delete user",
            "user.created" => "New user",
            "group.members_changed" => "Members of group",
            "group.roles_changed" => "Roles of group",
            "group.created" => "New group",
            "group.updated" => "Group",
            "role.created" => "New role",
            "role.updated" => "Role",
            "role.deleted" => "Delete role",
            "roles.imported" => "Role import",
            "password_policy.updated" => "Password policy",
            "mfa_policy.changed" => "MFA policy",
            "approval_policy.changed" => "Approval policy",
            _ => e.Action,
        };
        return target is null ? what : $"{what} {target}";
    }

    private static List<DiffLine> Lines(JsonElement? details, IReadOnlyDictionary<Guid, string> names)
    {
        var lines = new List<DiffLine>();
        if (details is not { ValueKind: JsonValueKind.Object } d)
        {
            return lines;
        }

        if (Pair(d, "from", "to") is var (f, t))
        {
            AddSetChange(lines, null, f, t, names);
            return lines;
        }

        if (Pair(d, "removed", "added") is var (removedList, addedList))
        {
            lines.AddRange(Items(addedList, names).Select(i => new DiffLine("added", i)));
            lines.AddRange(Items(removedList, names).Select(i => new DiffLine("removed", i)));
            return lines;
        }

        if (d.TryGetProperty("before", out var before) && d.TryGetProperty("after", out var after)
            && before.ValueKind == JsonValueKind.Object && after.ValueKind == JsonValueKind.Object)
        {
            foreach (var member in after.EnumerateObject())
            {
                var old = before.TryGetProperty(member.Name, out var value) ? value : default;
                if (old.ValueKind == JsonValueKind.Undefined || old.GetRawText() != member.Value.GetRawText())
                {
                    if (old.ValueKind == JsonValueKind.Array && member.Value.ValueKind == JsonValueKind.Array)
                    {
                        AddSetChange(lines, member.Name, old, member.Value, names);
                    }
                    else
                    {
                        lines.Add(new DiffLine("changed", $"{member.Name}: {Text(old, names)} → {Text(member.Value, names)}"));
                    }
                }
            }
        }

        foreach (var member in d.EnumerateObject().Where(p => p.Name is not ("before" or "after" or "changeRequest")))
        {
            lines.Add(new DiffLine("value", $"{member.Name}: {Text(member.Value, names)}"));
        }

        return lines;
    }

    private static (JsonElement, JsonElement)? Pair(JsonElement d, string a, string b)
        => d.TryGetProperty(a, out var x) && d.TryGetProperty(b, out var y) && x.ValueKind == JsonValueKind.Array && y.ValueKind == JsonValueKind.Array ? (x, y) : null;

    private static void AddSetChange(List<DiffLine> lines, string? label, JsonElement from, JsonElement to, IReadOnlyDictionary<Guid, string> names)
    {
        var before = Items(from, names).ToList();
        var after = Items(to, names).ToList();
        var prefix = label is null ? "" : $"{label}: ";
        foreach (var added in after.Except(before, StringComparer.Ordinal))
        {
            lines.Add(new DiffLine("added", prefix + added));
        }

        foreach (var removed in before.Except(after, StringComparer.Ordinal))
        {
            lines.Add(new DiffLine("removed", prefix + removed));
        }
    }

    private static IEnumerable<string> Items(JsonElement array, IReadOnlyDictionary<Guid, string> names)
        => array.ValueKind == JsonValueKind.Array ? array.EnumerateArray().Select(i => Text(i, names)) : [];

    private static string Text(JsonElement value, IReadOnlyDictionary<Guid, string> names) => value.ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => "(none)",
        JsonValueKind.String when Guid.TryParse(value.GetString(), out var id) => names.GetValueOrDefault(id) ?? id.ToString(),
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Array => value.GetArrayLength() == 0 ? "(none)" : string.Join(", ", value.EnumerateArray().Select(v => Text(v, names))),
        JsonValueKind.Object => Assignment(value, names) ?? value.GetRawText(),
        _ => value.GetRawText(),
    };

    /// <summary>A role or membership with its validity: "Teller (until 2027-01-31)".</summary>
    private static string? Assignment(JsonElement value, IReadOnlyDictionary<Guid, string> names)
    {
        var name = value.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()
            : value.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? Text(i, names) : null;
        if (name is null)
        {
            return null;
        }

        var from = Date(value, "validFrom");
        var until = Date(value, "validUntil");
        return (from, until) switch
        {
            (null, null) => name,
            (null, { } u) => $"{name} (until {u})",
            ({ } f, null) => $"{name} (from {f})",
            ({ } f, { } u) => $"{name} ({f} to {u})",
        };
    }

    private static string? Date(JsonElement value, string member)
        => value.TryGetProperty(member, out var d) && d.ValueKind == JsonValueKind.String && d.TryGetDateTime(out var at)
            ? (at.TimeOfDay == TimeSpan.Zero ? at.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : at.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))
            : null;
}
