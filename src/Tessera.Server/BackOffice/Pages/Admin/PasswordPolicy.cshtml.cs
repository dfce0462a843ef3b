using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Core.Credentials;
using Tessera.Server.Credentials;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>The company password policy: every setting of <see cref="PasswordPolicy"/>, saved by <see cref="CredentialService.SetPolicyAsync"/>.</summary>
[RequiresPrivilege(Privileges.ManagePasswordPolicy)]
[Mfa.RequiresStepUp]
public sealed class PasswordPolicyModel(CredentialService credentials) : PageModel
{
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

        TempData["Notice"] = "The password policy was saved.";
        return Redirect("/admin/password-policy");
    }
}
