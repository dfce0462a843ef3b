using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.ViewFeatures;
using Tessera.Core.Common;
using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice;

/// <summary>The signed-in Back Office user's current standing, loaded once per request.</summary>
public static class BackOfficeCaller
{
    private static readonly object Key = new();

    public static async Task<CallerState?> CallerAsync(this HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var cached))
        {
            return (CallerState?)cached;
        }

        CallerState? caller = null;
        if (Guid.TryParse(context.User.FindFirst(TesseraClaims.Subject)?.Value, out var id))
        {
            caller = await context.RequestServices.GetRequiredService<CallerDirectory>().GetAsync(id, context.RequestAborted);
        }

        context.Items[Key] = caller;
        return caller;
    }

    public static async Task<bool> HoldsAsync(this HttpContext context, string privilege)
        => await context.CallerAsync() is { } caller && caller.Privileges.Contains(privilege);
}

/// <summary>
/// A Back Office page needs the signed-in user to hold this privilege now; without it the page
/// answers 403 with the Forbidden view, whatever the handler.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class RequiresPrivilegeAttribute(string privilege) : Attribute, IAsyncPageFilter
{
    public string Privilege => privilege;

    /// <summary>When set (POST, say), the privilege guards only requests of that method: viewing needs less than changing.</summary>
    public string? OnlyFor { get; init; }

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var applies = OnlyFor is null || string.Equals(OnlyFor, context.HttpContext.Request.Method, StringComparison.OrdinalIgnoreCase);
        if (applies && !await context.HttpContext.HoldsAsync(privilege))
        {
            context.Result = Forbidden();
            return;
        }

        await next();
    }

    public static IActionResult Forbidden()
    {
        var viewData = new ViewDataDictionary(new Microsoft.AspNetCore.Mvc.ModelBinding.EmptyModelMetadataProvider(), new Microsoft.AspNetCore.Mvc.ModelBinding.ModelStateDictionary()) { ["Title"] = "Forbidden" };
        return new ViewResult { ViewName = "/BackOffice/Pages/Shared/_Forbidden.cshtml", ViewData = viewData, StatusCode = StatusCodes.Status403Forbidden };
    }
}

/// <summary>Puts a use case's failure beside the form fields it names, or above the form when it names none.</summary>
public static class FailureDisplay
{
    private static readonly Dictionary<string, string> FieldOfCode = new(StringComparer.Ordinal)
    {
        ["username_taken"] = "username",
        ["email_taken"] = "email",
        ["role_name_taken"] = "name",
        ["group_name_taken"] = "name",
    };

    /// <param name="renames">Service field names (camelCase) that the form calls otherwise.</param>
    public static void AddTo(this Failure failure, Microsoft.AspNetCore.Mvc.ModelBinding.ModelStateDictionary state, params (string Field, string Input)[] renames)
        => failure.AddTo(state, "", renames);

    /// <param name="prefix">The prefix of the form's input names ("Policy." for Policy.MinLength).</param>
    public static void AddTo(this Failure failure, Microsoft.AspNetCore.Mvc.ModelBinding.ModelStateDictionary state, string prefix, params (string Field, string Input)[] renames)
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
        foreach (var violation in failure.Violations ?? [])
        {
            state.AddModelError(Key("newPassword"), violation.Message);
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
