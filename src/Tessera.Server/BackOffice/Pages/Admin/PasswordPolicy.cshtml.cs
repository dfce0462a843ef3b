using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Credentials;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Credentials;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>The company password policy: every setting of <see cref="PasswordPolicy"/>, saved by <see cref="CredentialService.SetPolicyAsync"/>.</summary>
[RequiresPrivilege(Privileges.ManagePasswordPolicy)]
[Mfa.RequiresStepUp]
public sealed class PasswordPolicyModel(CredentialService credentials, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    [BindProperty] public PasswordPolicy Policy { get; set; } = PasswordPolicy.Default;

    public async Task OnGetAsync() => Policy = await credentials.PolicyAsync(HttpContext.RequestAborted);

    public async Task<IActionResult> OnPostAsync()
    {
        if (!ModelState.IsValid)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var saved = await credentials.SetPolicyAsync(Policy, HttpContext.RequestAborted);
        if (saved.Failure.SentForApproval(TempData))
        {
            return Redirect("/admin/password-policy");
        }

        if (!saved.Succeeded)
        {
            saved.Failure!.AddTo(ModelState, "Policy.");
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        TempData["Notice"] = Text["The password policy was saved."].Value;
        return Redirect("/admin/password-policy");
    }
}
