using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Governance;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Governance;

namespace Tessera.Server.BackOffice.Pages.Admin;

/// <summary>The approval policy, saved by <see cref="ApprovalPolicyService.SetPolicyAsync"/> as the REST API does; switching an operation off is itself sent for approval.</summary>
[RequiresPrivilege(Privileges.ManageGovernance)]
public sealed class ApprovalPolicyModel(ApprovalPolicyService policies, IStringLocalizer<SharedText> text) : PageModel
{
    private IStringLocalizer<SharedText> Text => text;

    [BindProperty] public List<string> Operations { get; set; } = [];

    [BindProperty] public int RequestLifetimeHours { get; set; } = ApprovalPolicy.DefaultLifetimeHours;

    public static IReadOnlyList<(string Operation, string Label)> Choices { get; } =
    [
        (ApprovalOperations.GrantRole, "Granting a role flagged \"requires approval\" (to a user, through a group's roles or a membership)"),
        (ApprovalOperations.ChangeRoleDefinition, "Creating, changing, deleting or importing roles"),
        (ApprovalOperations.DeleteUser, "Deleting a user"),
        (ApprovalOperations.ChangePasswordPolicy, "Changing the password policy"),
        (ApprovalOperations.ChangeMfaPolicy, "Changing the MFA policy"),
        (ApprovalOperations.ChangeSodConstraints, "Changing separation-of-duties constraints"),
    ];

    public async Task OnGetAsync()
    {
        var policy = await policies.PolicyAsync(HttpContext.RequestAborted);
        Operations = [.. policy.Operations ?? []];
        RequestLifetimeHours = policy.RequestLifetimeHours;
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var saved = await policies.SetPolicyAsync(new ApprovalPolicy(Operations, RequestLifetimeHours), HttpContext.RequestAborted);
        if (saved.Failure.SentForApproval(TempData))
        {
            return Redirect("/admin/approval-policy");
        }

        if (!saved.Succeeded)
        {
            saved.Failure!.AddTo(ModelState);
            Response.StatusCode = saved.Failure!.FormStatus();
            return Page();
        }

        TempData["Notice"] = Text["The approval policy was saved."].Value;
        return Redirect("/admin/approval-policy");
    }
}
