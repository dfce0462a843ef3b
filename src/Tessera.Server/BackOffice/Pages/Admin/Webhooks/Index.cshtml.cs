using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tessera.Core.Access;
using Tessera.Server.Webhooks;

namespace Tessera.Server.BackOffice.Pages.Admin.Webhooks;

/// <summary>
/// Webhook subscriptions: the list with each one's state, and a form to add one. The new subscription's secret is
/// shown in the answer to that form, once: the page is not redirected, so the secret never travels in a cookie.
/// </summary>
[RequiresPrivilege(Privileges.ManageWebhooks)]
public sealed class IndexModel(WebhookService webhooks) : PageModel
{
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    [BindProperty] public string? ReceiverUrl { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public string? EventTypes { get; set; }

    public IReadOnlyList<WebhookResponse> Subscriptions { get; private set; } = [];

    public string? NextCursor { get; private set; }

    /// <summary>The subscription just created, with its secret; null otherwise.</summary>
    public WebhookResponse? Created { get; private set; }

    public bool CreateFailed { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        await ListAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostCreateAsync()
    {
        var outcome = await webhooks.CreateAsync(new CreateWebhookRequest(ReceiverUrl, Description, WebhookForm.SplitEventTypes(EventTypes), true, null), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState, ("url", nameof(ReceiverUrl)));
            WebhookForm.GatherEventTypeErrors(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            CreateFailed = true;
            await ListAsync();
            return Page();
        }

        Created = outcome.Value;
        ReceiverUrl = Description = EventTypes = null;
        ModelState.Clear();
        Cursor = null;
        await ListAsync();
        return Page();
    }

    public string Link(string? cursor) => cursor is null ? "/admin/webhooks" : $"/admin/webhooks?cursor={Uri.EscapeDataString(cursor)}";

    private async Task ListAsync()
    {
        var page = await webhooks.ListAsync(new WebhookQuery(null, Cursor), HttpContext.RequestAborted);
        if (!page.Succeeded)
        {
            Cursor = null;
            page = await webhooks.ListAsync(new WebhookQuery(), HttpContext.RequestAborted);
        }

        Subscriptions = page.Value!.Items;
        NextCursor = page.Value.NextCursor;
    }
}
