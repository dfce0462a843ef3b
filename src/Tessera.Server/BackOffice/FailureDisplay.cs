using System.Globalization;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.ViewFeatures;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Credentials;
using Tessera.Core.Users;
using Tessera.Server.BackOffice.Localization;

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
    /// The shared texts (Resources/BackOffice/SharedText.de.resx), read in the request's UI culture at each call. One
    /// stateless lookup for the whole process, as the framework's own localizer factory would make it: these
    /// extension methods are called from page models that would otherwise each have to pass one in.
    /// </summary>
    private static readonly StringLocalizer<SharedText> Text = new(
        new ResourceManagerStringLocalizerFactory(Options.Create(new LocalizationOptions { ResourcesPath = "Resources" }), NullLoggerFactory.Instance));

    /// <summary>
    /// What a person reads for a failure, in the page's language. In English it is the service's own detail (it names
    /// the user, role or value concerned). In another language it is the Back Office's words for the failure's code,
    /// which name nothing the detail does not need; a code without a translation keeps the English detail.
    /// </summary>
    public static string Message(this Failure failure)
    {
        if (CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == UserPreferences.DefaultLanguage)
        {
            return failure.Detail;
        }

        var message = failure.Code switch
        {
            DelegationCodes.PrivilegeCeiling => Text["You can only grant privileges that you hold yourself."],
            DelegationCodes.TargetOutranksActor => Text["This user holds privileges that you do not hold: you cannot change them."],
            DelegationCodes.SelfLockout => Text["You cannot take away your own access to manage users."],
            "last_admin" => Text["This would leave no active user who manages users without an end date."],
            "reserved_user" => Text["This user is reserved: it cannot be changed, deleted, or given roles or groups."],
            "username_taken" => Text["Another user has this username."],
            "email_taken" => Text["Another user or customer has this email address."],
            "role_name_taken" => Text["A role with this name exists."],
            "group_name_taken" => Text["A group with this name exists."],
            "sod_constraint_name_taken" => Text["A separation-of-duties constraint with this name exists."],
            "builtin_role" => Text["This role is built in: it cannot be renamed or deleted, and its privileges and rules are fixed."],
            "system_role_forbidden" => Text["A Back Office user cannot hold the System role, directly or through a group."],
            "system_role_required" => Text["An API user must hold the System role."],
            "unknown_role" => Text["There is no role with this name."],
            "unknown_group" => Text["There is no group with this name."],
            "unknown_user" => Text["There is no user with this id."],
            "not_found" => Text["This no longer exists."],
            "conflict" => Text["Another change made the same name or key meanwhile; reload and try again."],
            "api_user" => Text["API users get no invitation; set their secret instead."],
            "sso_user" => Text["This user signs in through single sign-on and has no password here."],
            "wrong_password" => Text["The current password is not correct."],
            "wrong_code" => Text["That code is not right. Check the time on your phone and enter the current code."],
            "invalid_token" => Text["This link cannot be used: it is wrong, used already or expired."],
            "sod_violation" => Text["This would give one person duties that must stay apart (separation of duties)."],
            "sod_existing_violations" => Text["Users already hold the roles this constraint keeps apart; resolve those first."],
            "role_in_sod_constraint" => Text["A separation-of-duties constraint names this role; change the constraint first."],
            "request_not_pending" => Text["The change request is no longer pending: it cannot be decided again."],
            "request_expired" => Text["The change request has expired; the maker can make the change again."],
            "not_maker" => Text["Only the maker of a change request may withdraw it."],
            "self_approval" => Text["Nobody approves or rejects their own change request; the maker may withdraw it."],
            "change_unreadable" => Text["The stored change cannot be applied by this version of Tessera."],
            "review_closed" => Text["The campaign is closed: its decisions are final."],
            "not_a_reviewer" => Text["Only a reviewer named in the campaign decides on its items."],
            "self_review" => Text["This is your own access: another reviewer decides on it."],
            "reviewer_not_eligible" => Text["A reviewer must be an active Back Office user."],
            "forbidden" => Text["You do not hold the privilege this needs."],
            _ => null,
        };
        return message is { ResourceNotFound: false } ? message.Value : failure.Detail;
    }

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
        tempData["Notice"] = operation is null
            ? Text["Sent for approval: this change applies once another person approves it."].Value
            : Text["Sent for approval: this change ({0}) applies once another person approves it.", operation].Value;
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
            state.AddModelError(Key(lookAlike), failure.Message());
            added = true;
        }

        if (!added && FieldOfCode.TryGetValue(failure.Code, out var named))
        {
            state.AddModelError(Key(named), failure.Message());
            added = true;
        }

        if (!added)
        {
            state.AddModelError(string.Empty, failure.Message());
        }
    }
}
