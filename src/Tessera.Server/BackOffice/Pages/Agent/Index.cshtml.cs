using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Tessera.Server.BackOffice.Localization;
using Tessera.Core.Access;
using Tessera.Server.AgentAssist;
using Tessera.Server.Customers;

namespace Tessera.Server.BackOffice.Pages.Agent;

/// <summary>Agent assist: search the customers in the agent's scope, and act as one of them with a reason.</summary>
[RequiresPrivilege(Privileges.AgentAssist)]
[Mfa.RequiresStepUp("Act")]
public sealed class IndexModel(AgentScopeService scopes, ImpersonationService impersonation, IOptions<AgentAssistOptions> options, IStringLocalizer<SharedText> Text) : PageModel
{
    public const int PageSize = 25;

    [BindProperty(SupportsGet = true)] public string? Q { get; set; }
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    /// <summary>The customer the agent chose to act as; set, the page shows the reason form.</summary>
    [BindProperty(SupportsGet = true)] public string? Customer { get; set; }

    [BindProperty] public string? Reason { get; set; }

    public IReadOnlyList<CustomerResponse> Customers { get; private set; } = [];

    public string? NextCursor { get; private set; }

    public ImpersonationToken? Issued { get; private set; }

    /// <summary>The agent's scope holds no customer: the page says so and where the scope is set, instead of an empty search.</summary>
    public bool ScopeIsEmpty { get; private set; }

    public Guid CallerId { get; private set; }

    /// <summary>The signed-in user may open user pages, where the agent scope is set.</summary>
    public bool MaySetScope { get; private set; }

    public bool MayManageCustomers { get; private set; }

    /// <summary>The storefront link carrying the token, when `Tessera:AgentAssist:StorefrontUrl` is set.</summary>
    public string? StorefrontLink { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (Blank(Customer) is null)
        {
            await SearchAsync();
        }

        return Page();
    }

    public async Task<IActionResult> OnPostActAsync()
    {
        var caller = await HttpContext.CallerAsync();
        if (caller is null)
        {
            return RequiresPrivilegeAttribute.Forbidden();
        }

        if (string.IsNullOrWhiteSpace(Reason))
        {
            ModelState.AddModelError(nameof(Reason), Text["Give a reason for acting on the customer's behalf."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var outcome = await impersonation.StartAsync(caller.Id, Customer, Reason, HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            // The service words its refusals for people (not in scope, disabled, no reason); show them as they are.
            ModelState.AddModelError(string.Empty, outcome.Failure!.Detail);
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Page();
        }

        Issued = outcome.Value!;
        if (Blank(options.Value.StorefrontUrl) is { } storefront)
        {
            StorefrontLink = QueryHelpers.AddQueryString(storefront, "agent_token", Issued.AccessToken);
        }

        return Page();
    }

    public string Link(string? cursor)
    {
        var query = new Dictionary<string, string?> { ["q"] = Blank(Q), ["cursor"] = cursor };
        return QueryHelpers.AddQueryString("/agent", query.Where(p => p.Value is not null));
    }

    public static string ActLink(string reference) => QueryHelpers.AddQueryString("/agent", "customer", reference);

    private async Task SearchAsync()
    {
        var caller = await HttpContext.CallerAsync();
        if (caller is null)
        {
            return;
        }

        CallerId = caller.Id;
        MaySetScope = caller.Privileges.Contains(Privileges.ViewUsers);
        MayManageCustomers = caller.Privileges.Contains(Privileges.ManageCustomers);
        if (caller.Type == Core.Users.UserType.BackOffice && await scopes.ScopeIsEmptyAsync(caller.Id, HttpContext.RequestAborted))
        {
            ScopeIsEmpty = true;
            return;
        }

        var page = await scopes.SearchAsync(caller.Id, new CustomerQuery(Blank(Q), Limit: PageSize, Cursor: Blank(Cursor)), HttpContext.RequestAborted);
        if (!page.Succeeded)
        {
            ModelState.AddModelError(string.Empty, page.Failure!.Detail);
            Response.StatusCode = page.Failure.Kind == Tessera.Core.Common.FailureKind.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest;
            return;
        }

        Customers = page.Value!.Items;
        NextCursor = page.Value.NextCursor;
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
