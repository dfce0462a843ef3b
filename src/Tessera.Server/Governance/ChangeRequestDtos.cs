using System.Text.Json;
using Tessera.Server.Changes;
using Tessera.Server.Storage;

namespace Tessera.Server.Governance;

public sealed record ChangeRequestPerson(Guid Id, string Username);

public sealed record ChangeRequestFailure(string Code, string Detail);

/// <summary>One audit event the change writes when it applies: the readable diff of a change request.</summary>
public sealed record ChangeRequestEvent(string Action, ChangeTarget Target, JsonElement? Details);

/// <summary>A change request as the API answers it (202 to the maker, and the change-request endpoints).</summary>
public sealed record ChangeRequestResponse(
    Guid Id,
    string Operation,
    string Kind,
    ChangeTarget Target,
    ChangeRequestPerson Maker,
    string Reason,
    string Status,
    DateTime CreatedAt,
    DateTime ExpiresAt,
    ChangeRequestPerson? Checker,
    DateTime? DecidedAt,
    string? Comment,
    ChangeRequestFailure? Failure,
    IReadOnlyList<ChangeRequestEvent> Preview)
{
    public static ChangeRequestResponse Of(ChangeRequest r) => new(
        r.Id,
        r.Operation,
        KindOf(r.Change),
        new ChangeTarget(r.TargetType, Guid.TryParse(r.TargetId, out var id) ? id : null, r.TargetName),
        new ChangeRequestPerson(r.MakerId, r.MakerUsername),
        r.Reason,
        r.Status,
        DateTime.SpecifyKind(r.CreatedAt, DateTimeKind.Utc),
        DateTime.SpecifyKind(r.ExpiresAt, DateTimeKind.Utc),
        r.CheckerId is { } checker ? new ChangeRequestPerson(checker, r.CheckerUsername ?? "") : null,
        r.DecidedAt is { } decided ? DateTime.SpecifyKind(decided, DateTimeKind.Utc) : null,
        r.Comment,
        r.FailureCode is { } code ? new ChangeRequestFailure(code, r.FailureDetail ?? "") : null,
        JsonSerializer.Deserialize<List<ChangeRequestEvent>>(r.Preview, JsonSerializerOptions.Web) ?? []);

    /// <summary>The change's kind, its type discriminator (<c>user.set_roles</c>, <c>role.update</c> ...).</summary>
    private static string KindOf(string change)
    {
        using var document = JsonDocument.Parse(change);
        return document.RootElement.TryGetProperty("kind", out var kind) ? kind.GetString() ?? "" : "";
    }
}

/// <summary>POST /change-requests/{id}/approve, /reject, /withdraw: an optional comment.</summary>
public sealed record ChangeRequestDecision(string? Comment);

public sealed record ChangeRequestPage(IReadOnlyList<ChangeRequestResponse> Items, string? NextCursor);
