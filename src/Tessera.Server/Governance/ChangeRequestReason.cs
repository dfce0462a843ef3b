using Tessera.Core.Common;

namespace Tessera.Server.Governance;

/// <summary>
/// Why a maker makes a change: the <c>X-Change-Reason</c> header, or a <c>reason</c> member of the JSON body of the
/// endpoint that makes it (taken out of the body before binding by <see cref="Http.StrictRequests"/>, so that no
/// request type needs to declare it). Stored with a change request when the change is sent for approval; ignored otherwise.
/// </summary>
public static class ChangeRequestReason
{
    public const string Header = "X-Change-Reason";
    public const string Member = "reason";
    public const int MaxLength = 1000;

    private const string ItemKey = "Tessera.ChangeReason";

    public static void Set(HttpContext context, string reason) => context.Items[ItemKey] = reason;

    public static string Of(HttpContext? context)
    {
        if (context is null)
        {
            return "";
        }

        var reason = context.Items.TryGetValue(ItemKey, out var item) && item is string body ? body : context.Request.Headers[Header].ToString();
        return reason.Trim();
    }

    /// <summary>Why a reason is refused (too long, control characters), or null.</summary>
    public static Failure? Problem(string field, string reason)
    {
        string? problem = reason.Length > MaxLength ? $"The reason may be at most {MaxLength} characters long."
            : Http.StrictRequests.HasControlCharacter(reason, multiLine: true) ? "The reason may hold tabs and line breaks but no other control characters."
            : Http.StrictRequests.HasLoneSurrogate(reason) ? "The reason is not valid Unicode text." : null;
        return problem is null ? null : Failure.Invalid("validation_failed", problem, new Dictionary<string, string[]> { [field] = [problem] });
    }
}
