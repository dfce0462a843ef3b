using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Webhooks;

namespace Tessera.Server.BackOffice.Pages.Admin.Webhooks;

/// <summary>
/// One webhook subscription: change it, switch it on or off, replace its secret (shown once, in the answer to that
/// form), delete it after a confirmation, and its recent deliveries from the delivery log.
/// </summary>
[RequiresPrivilege(Privileges.ManageWebhooks)]
public sealed class WebhookModel(WebhookService webhooks, IStringLocalizer<SharedText> Text) : PageModel
{
    /// <summary>The deliveries the page shows, newest first; the API pages through the rest.</summary>
    public const int RecentDeliveries = 20;

    [BindProperty(SupportsGet = true)] public Guid Id { get; set; }

    [BindProperty] public string? ReceiverUrl { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public string? EventTypes { get; set; }
    [BindProperty] public bool Enabled { get; set; }
    [BindProperty] public bool ConfirmDelete { get; set; }

    public WebhookResponse Subscription { get; private set; } = null!;

    public IReadOnlyList<WebhookDeliveryResponse> Deliveries { get; private set; } = [];

    /// <summary>The secret just set, shown in this answer only.</summary>
    public string? NewSecret { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        Fill();
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var outcome = await webhooks.UpdateAsync(Id, new UpdateWebhookRequest(ReceiverUrl, Description, WebhookForm.SplitEventTypes(EventTypes), Enabled, null), HttpContext.RequestAborted);
        if (!await LoadAsync())
        {
            return NotFound();
        }

        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState, ("url", nameof(ReceiverUrl)));
            WebhookForm.GatherEventTypeErrors(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            return Page();
        }

        TempData["Notice"] = Text["Subscription {0} was saved.", outcome.Value!.Url].Value;
        return Redirect($"/admin/webhooks/{Id}");
    }

    /// <summary>Switches the subscription on or off, keeping the rest; switching off abandons its pending deliveries.</summary>
    public Task<IActionResult> OnPostStatusAsync(bool enable) => ReplaceAsync(enable, secret: null);

    /// <summary>Replaces the secret with a generated one and shows it in this answer, once.</summary>
    public Task<IActionResult> OnPostSecretAsync() => ReplaceAsync(enable: null, WebhookSecrets.Generate());

    public async Task<IActionResult> OnPostDeleteAsync()
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        Fill();
        if (!ConfirmDelete)
        {
            ModelState.AddModelError(nameof(ConfirmDelete), Text["Tick the box to confirm that the subscription is to be deleted."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (await webhooks.DeleteAsync(Id, HttpContext.RequestAborted) is { } failure)
        {
            failure.AddTo(ModelState);
            Response.StatusCode = failure.FormStatus();
            return Page();
        }

        TempData["Notice"] = Text["Subscription {0} was deleted.", Subscription.Url].Value;
        return Redirect("/admin/webhooks");
    }

    private async Task<IActionResult> ReplaceAsync(bool? enable, string? secret)
    {
        if (!await LoadAsync())
        {
            return NotFound();
        }

        var current = Subscription;
        var outcome = await webhooks.UpdateAsync(Id, new UpdateWebhookRequest(current.Url, current.Description, [.. current.EventTypes], enable ?? current.Enabled, secret), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            Fill();
            outcome.Failure!.AddTo(ModelState, ("url", nameof(ReceiverUrl)));
            WebhookForm.GatherEventTypeErrors(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            return Page();
        }

        if (secret is null)
        {
            TempData["Notice"] = Text["Subscription {0} was saved.", outcome.Value!.Url].Value;
            return Redirect($"/admin/webhooks/{Id}");
        }

        // Not redirected: the secret is in this answer and nowhere else, not even a cookie.
        await LoadAsync();
        Fill();
        NewSecret = secret;
        return Page();
    }

    private void Fill()
    {
        ReceiverUrl = Subscription.Url;
        Description = Subscription.Description;
        EventTypes = string.Join(", ", Subscription.EventTypes);
        Enabled = Subscription.Enabled;
    }

    private async Task<bool> LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        if (await webhooks.GetAsync(Id, ct) is not { Succeeded: true } found)
        {
            return false;
        }

        Subscription = found.Value!;
        Deliveries = (await webhooks.DeliveriesAsync(Id, new WebhookDeliveryQuery(Limit: RecentDeliveries), ct)).Value?.Items ?? [];
        return true;
    }
}
