using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.ViewFeatures;
using Tessera.Core.Common;
using Tessera.Core.Credentials;

namespace Tessera.Server.BackOffice;

/// <summary>Puts a use case's failure beside the form fields it names, or above the form when it names none.</summary>
public static class FailureDisplay
{
    private static readonly Dictionary<string, string> FieldOfCode = new(StringComparer.Ordinal)
    {
        ["username_taken"] = "username",
        ["email_taken"] = "email",
        ["role_name_taken"] = "name",
        ["group_name_taken"] = "name",
        ["sod_constraint_name_taken"] = "name",
    };

    /// <summary>
    /// What a person reads of a refused password: the rule it breaks, then, for one too easy to guess, what makes it
    /// so and what to do instead.
    /// </summary>
    public static IEnumerable<string> Lines(this PasswordViolation violation)
    {
        yield return violation.Message;
        if (violation.Warning is { Length: > 0 } warning)
        {
            yield return warning;
        }

        foreach (var suggestion in violation.Suggestions ?? [])
        {
            yield return suggestion;
        }
    }

    /// <summary>The TempData key of the change request a notice links to (the layout shows the link; TempData gives it back as a Guid).</summary>
    public const string ChangeRequestKey = "ChangeRequest";

    /// <summary>
    /// True when the change was not refused but sent for four-eyes approval: the next page shows "Sent for approval"
    /// with a link to the request, where the change would have been announced. The page then redirects as after a success.
    /// </summary>
    public static bool SentForApproval(this Failure? failure, ITempDataDictionary tempData)
    {
        if (failure is not { Kind: FailureKind.Deferred })
        {
            return false;
        }

        var operation = failure.Extensions?.GetValueOrDefault("changeRequest") is Governance.ChangeRequestResponse request ? request.Operation : null;
        tempData["Notice"] = $"Sent for approval: this change{(operation is null ? "" : $" ({operation})")} applies once another person approves it.";
        tempData[ChangeRequestKey] = failure.Extensions?.GetValueOrDefault("changeRequestId")?.ToString();
        return true;
    }

    /// <summary>
    /// The status of a page that shows a failed form again: 403 when the delegation rules refuse the change,
    /// 409 when it conflicts with the directory (a taken name, one's own access), 400 otherwise.
    /// </summary>
    public static int FormStatus(this Failure failure) => failure.Kind switch
    {
        FailureKind.Forbidden => StatusCodes.Status403Forbidden,
        FailureKind.Conflict => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <param name="renames">Service field names (camelCase) that the form calls otherwise.</param>
    public static void AddTo(this Failure failure, ModelStateDictionary state, params (string Field, string Input)[] renames)
        => failure.AddTo(state, "", renames);

    /// <param name="prefix">The prefix of the form's input names ("Policy." for Policy.MinLength).</param>
    public static void AddTo(this Failure failure, ModelStateDictionary state, string prefix, params (string Field, string Input)[] renames)
    {
        string Key(string field)
        {
            foreach (var (from, to) in renames)
            {
                if (string.Equals(from, field, StringComparison.OrdinalIgnoreCase))
                {
                    return to;
                }
            }

            return field.Length == 0 ? field : prefix + char.ToUpperInvariant(field[0]) + field[1..];
        }

        var added = false;
        foreach (var line in (failure.Violations ?? []).SelectMany(v => v.Lines()))
        {
            state.AddModelError(Key("newPassword"), line);
            added = true;
        }

        foreach (var (field, messages) in failure.Errors ?? new Dictionary<string, string[]>())
        {
            if (failure.Violations is { Count: > 0 } && field == "newPassword")
            {
                continue;
            }

            foreach (var message in messages)
            {
                state.AddModelError(Key(field), message);
                added = true;
            }
        }

        if (!added && failure.Code == Tessera.Server.Users.LookAlikes.Code && failure.Extensions?.GetValueOrDefault("field") is string lookAlike)
        {
            state.AddModelError(Key(lookAlike), failure.Detail);
            added = true;
        }

        if (!added && FieldOfCode.TryGetValue(failure.Code, out var named))
        {
            state.AddModelError(Key(named), failure.Detail);
            added = true;
        }

        if (!added)
        {
            state.AddModelError(string.Empty, failure.Detail);
        }
    }
}
