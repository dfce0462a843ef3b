using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Mfa;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>The MFA policy, saved by <see cref="MfaPolicyService.SetAsync"/> as the REST API does; changing it needs a fresh second factor.</summary>
[RequiresPrivilege(Privileges.ManageAuthenticationPolicy)]
[RequiresStepUp]
public sealed class MfaPolicyModel(MfaPolicyService policies, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    [BindProperty] public string Required { get; set; } = Core.Credentials.MfaRequirement.Privileged;

    /// <summary>Role names, separated by commas.</summary>
    [BindProperty] public string? RequiredRoles { get; set; }

    [BindProperty] public int StepUpMinutes { get; set; } = 15;

    [BindProperty] public bool TrustProviderMfa { get; set; } = true;

    public async Task OnGetAsync()
    {
        var policy = await policies.PolicyAsync(HttpContext.RequestAborted);
        (Required, RequiredRoles, StepUpMinutes, TrustProviderMfa) = (policy.Required, string.Join(", ", policy.RequiredRoles), policy.StepUpMinutes, policy.TrustProviderMfa);
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var roles = (RequiredRoles ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var saved = await policies.SetAsync(new Core.Credentials.MfaPolicy
        {
            Required = Required, RequiredRoles = roles, StepUpMinutes = StepUpMinutes, TrustProviderMfa = TrustProviderMfa,
        }, HttpContext.RequestAborted);
        if (saved.Failure.SentForApproval(TempData))
        {
            return Redirect("/admin/mfa-policy");
        }

        if (!saved.Succeeded)
        {
            saved.Failure!.AddTo(ModelState);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        TempData["Notice"] = Text["The MFA policy was saved."].Value;
        return Redirect("/admin/mfa-policy");
    }
}
