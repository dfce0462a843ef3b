using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Core.Customers;
using Tessera.Server.AgentAssist;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Customers;

namespace Tessera.Server.BackOffice.Pages.Admin.Customers;

/// <summary>One customer: change their details, disable or enable them, and see which agents may assist them.</summary>
[RequiresPrivilege(Privileges.ManageCustomers)]
public sealed class CustomerModel(CustomerService customers, AgentScopeService scopes, IStringLocalizer<SharedText> Text) : PageModel
{
    [BindProperty(SupportsGet = true)] public Guid Id { get; set; }

    [BindProperty] public string? Reference { get; set; }
    [BindProperty] public string? Email { get; set; }
    [BindProperty] public string? FirstName { get; set; }
    [BindProperty] public string? LastName { get; set; }

    public CustomerResponse Customer { get; private set; } = null!;

    /// <summary>The agents whose scope holds the customer; null when the signed-in user may not see users (VIEW_USERS).</summary>
    public IReadOnlyList<CustomerAgent>? Agents { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        Reference = Customer.Reference;
        Email = Customer.Email;
        FirstName = Customer.FirstName;
        LastName = Customer.LastName;
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var outcome = await customers.UpdateAsync(Id, new UpdateCustomerRequest(Reference ?? "", Email ?? "", FirstName ?? "", LastName ?? "", null), HttpContext.RequestAborted);
        if (!await LoadAsync())
        {
            return NotFound();
        }

        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            return Page();
        }

        TempData["Notice"] = Text["Customer {0} was saved.", outcome.Value!.Reference].Value;
        return Redirect($"/admin/customers/{Id}");
    }

    /// <summary>Disables an active customer or enables a disabled one; agents cannot act as a disabled customer.</summary>
    public async Task<IActionResult> OnPostStatusAsync(string? status)
    {
        var wanted = CustomerRules.ParseStatus(status);
        if (wanted is null)
        {
            return BadRequest();
        }

        var outcome = await customers.UpdateAsync(Id, new UpdateCustomerRequest(null, null, null, null, wanted), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            if (!await LoadAsync())
            {
                return NotFound();
            }

            outcome.Failure!.AddTo(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            Reference = Customer.Reference;
            Email = Customer.Email;
            FirstName = Customer.FirstName;
            LastName = Customer.LastName;
            return Page();
        }

        TempData["Notice"] = (wanted == CustomerRules.Disabled
            ? Text["Customer {0} was disabled.", outcome.Value!.Reference]
            : Text["Customer {0} was enabled.", outcome.Value!.Reference]).Value;
        return Redirect($"/admin/customers/{Id}");
    }

    private async Task<bool> LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (await customers.GetAsync(Id, ct) is not { Succeeded: true } found)
        {
            return false;
        }

        Customer = found.Value!;
        if (await HttpContext.HoldsAsync(Privileges.ViewUsers) && await scopes.AgentsOfAsync(Id, ct) is { Succeeded: true } agents)
        {
            Agents = agents.Value!.Items;
        }

        return true;
    }
}
