using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.Mvc.ViewFeatures;

namespace Tessera.Server.BackOffice;

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
        var viewData = new ViewDataDictionary(new EmptyModelMetadataProvider(), new ModelStateDictionary()) { ["Title"] = "Forbidden" };
        return new ViewResult { ViewName = "/BackOffice/Pages/Shared/_Forbidden.cshtml", ViewData = viewData, StatusCode = StatusCodes.Status403Forbidden };
    }
}
