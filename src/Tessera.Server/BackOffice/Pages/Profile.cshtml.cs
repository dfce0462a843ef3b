using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Credentials;
using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice.Pages;

/// <summary>The signed-in user's own details, their language and time zone, and the change of their own password.</summary>
public sealed class ProfileModel(CredentialService credentials, CallerDirectory callers, SessionService sessions, PreferencesService preferences,
    IStringLocalizer<SharedText> Text, TimeProvider clock) : PageModel
{
    [BindProperty] public string? CurrentPassword { get; set; }
    [BindProperty] public string? NewPassword { get; set; }
    [BindProperty] public string? ConfirmPassword { get; set; }

    /// <summary>The language chosen: "" follows the browser.</summary>
    [BindProperty] public string? Language { get; set; }

    /// <summary>The time zone chosen: UTC when none.</summary>
    [BindProperty] public string? TimeZone { get; set; }

    /// <summary>True on the page shown after the preferences were saved (in the language just chosen).</summary>
    [BindProperty(SupportsGet = true, Name = "saved")] public string? Saved { get; set; }

    /// <summary>The form that failed, so that its error summary shows beside it ("preferences" or "password").</summary>
    public string? FailedForm { get; private set; }

    public CallerState Me { get; private set; } = null!;

    /// <summary>The user's open sessions, this one marked (the Sessions card).</summary>
    public IReadOnlyList<SessionResponse> Sessions { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        if (await HttpContext.CallerAsync() is not { } me)
        {
            return Challenge(WebSessions.Scheme);
        }

        Me = me;
        Language = me.Language ?? "";
        TimeZone = me.TimeZone ?? "UTC";
        Sessions = await sessions.MineAsync(me.Id, HttpContext.RequestAborted);
        return Page();
    }

    /// <summary>Saves the language and time zone; the page after it speaks the language chosen.</summary>
    public async Task<IActionResult> OnPostPreferencesAsync()
    {
        if (await HttpContext.CallerAsync() is not { } me)
        {
            return Challenge(WebSessions.Scheme);
        }

        var saved = await preferences.SetAsync(me.Id, new PreferencesRequest(Language, TimeZone), HttpContext.RequestAborted);
        if (!saved.Succeeded)
        {
            Me = me;
            FailedForm = "preferences";
            saved.Failure!.AddTo(ModelState);
            Response.StatusCode = saved.Failure!.FormStatus();
            Sessions = await sessions.MineAsync(me.Id, HttpContext.RequestAborted);
            return Page();
        }

        return Redirect("/profile?saved=preferences");
    }

    /// <summary>"Sign out my other sessions": every session of the user but this one ends at once.</summary>
    public async Task<IActionResult> OnPostEndOthersAsync()
    {
        if (await HttpContext.CallerAsync() is not { } me)
        {
            return Challenge(WebSessions.Scheme);
        }

        var ended = await sessions.EndOthersAsync(me.Id, WebSessions.SessionIdOf(User), HttpContext.RequestAborted);
        TempData["Notice"] = ended == 1 ? Text["One other session was signed out."].Value : Text["{0} other sessions were signed out.", ended].Value;
        return Redirect("/profile");
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (await HttpContext.CallerAsync() is not { } me)
        {
            return Challenge(WebSessions.Scheme);
        }

        Me = me;
        Language = me.Language ?? "";
        TimeZone = me.TimeZone ?? "UTC";
        var failure = await credentials.ChangeOwnAsync(me.Id, new ChangeOwnPasswordRequest(CurrentPassword, NewPassword, ConfirmPassword), HttpContext.RequestAborted);
        if (failure is not null)
        {
            FailedForm = "password";
            failure.AddTo(ModelState);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            Sessions = await sessions.MineAsync(me.Id, HttpContext.RequestAborted);
            return Page();
        }

        // The change gave the user a new security stamp and ended every stored session; this one continues as a new
        // session under the new stamp (the cookie handler ends the old record and stores the new one).
        var fresh = await callers.GetAsync(me.Id, HttpContext.RequestAborted);
        if (fresh is null)
        {
            return Challenge(WebSessions.Scheme);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var secondFactorAt = DateTime.TryParse(User.FindFirst(TesseraClaims.SecondFactorAt)?.Value, null, System.Globalization.DateTimeStyles.RoundtripKind, out var at) ? at : (DateTime?)null;
        await HttpContext.SignInAsync(WebSessions.Scheme, WebSessions.Principal(fresh, now, User.FindAll(TesseraClaims.Amr).Select(c => c.Value), secondFactorAt));
        TempData["Notice"] = Text["Your password was changed. Other sessions were signed out."].Value;
        return Redirect("/profile");
    }
}
