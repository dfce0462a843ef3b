using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Tessera.Server.BackOffice;
using Tessera.Server.SignIn;

namespace Tessera.Server.Mfa;

/// <summary>
/// Whether a Back Office session must show a second factor again before a sensitive action: when its last one
/// (`tessera_mfa_at`) is older than the policy's stepUpMinutes. It applies to users who hold a second factor or whom
/// the policy requires to hold one. A user with no method whom the policy does not require is not prompted: there
/// is nothing to prompt for, and requiring it is the policy's decision. An SSO user whose provider's MFA the
/// policy trusts, and who holds no method here, is not prompted either, for the same reason.
/// </summary>
public sealed class StepUp(MfaMethods methods, Storage.TesseraDbContext db, TimeProvider clock)
{
    public async Task<bool> IsDueAsync(HttpContext http, CancellationToken ct)
    {
        if (await http.CallerAsync() is not { } caller)
        {
            return false;
        }

        var policy = await MfaPolicyService.GetAsync(db, ct);
        var at = DateTime.TryParse(http.User.FindFirst(TesseraClaims.SecondFactorAt)?.Value, null, System.Globalization.DateTimeStyles.RoundtripKind, out var parsed)
            ? parsed : (DateTime?)null;
        if (at is { } shown && clock.GetUtcNow().UtcDateTime - shown <= TimeSpan.FromMinutes(policy.StepUpMinutes))
        {
            return false;
        }

        if (await methods.HoldsSecondFactorAsync(caller.Id, ct))
        {
            return true;
        }

        var trusted = policy.LeavesToProvider(caller.CredentialMode == Core.Users.CredentialMode.Sso);
        return !trusted && await methods.RequiredAsync(caller, policy, ct);
    }

    /// <summary>The step-up prompt's address, coming back to the page (not the POST: the user submits again).</summary>
    public static string PromptFor(HttpRequest request)
    {
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(request.QueryString.Value);
        query.Remove("handler");
        var back = request.PathBase + request.Path + QueryString.Create(query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v))));
        return "/signin/step-up?returnUrl=" + Uri.EscapeDataString(SignInEndpoints.LocalOnly(back));
    }
}

/// <summary>
/// A Back Office POST handler that needs a fresh second factor (granting roles, setting another user's password,
/// deleting users, changing a policy, acting as a customer). When the last one is older than stepUpMinutes the
/// handler does not run: the browser goes to the step-up prompt and back to the page, where the user submits again.
/// The POST is never replayed after the prompt, so nothing is done that the user did not send once more.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresStepUpAttribute(params string[] handlers) : Attribute, IAsyncPageFilter
{
    /// <summary>The named handlers (OnPost{Name}) that need it; none named means every POST of the page.</summary>
    public IReadOnlyList<string> Handlers => handlers;

    public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

    public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
    {
        var http = context.HttpContext;
        var applies = HttpMethods.IsPost(http.Request.Method)
            && (handlers.Length == 0 || handlers.Contains(context.HandlerMethod?.Name, StringComparer.OrdinalIgnoreCase));
        if (applies && await http.RequestServices.GetRequiredService<StepUp>().IsDueAsync(http, http.RequestAborted))
        {
            context.Result = new RedirectResult(StepUp.PromptFor(http.Request));
            return;
        }

        await next();
    }
}
