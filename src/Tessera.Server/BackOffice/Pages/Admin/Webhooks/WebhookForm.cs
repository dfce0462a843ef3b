using Microsoft.AspNetCore.Mvc.ModelBinding;

namespace Tessera.Server.BackOffice.Pages.Admin.Webhooks;

/// <summary>What the two webhook pages' forms share: the event types as one text field.</summary>
public static class WebhookForm
{
    /// <summary>
    /// The event types of the form: separated by commas (or spaces). One line: the forms refuse control characters
    /// outside description fields (<see cref="Http.StrictRequests"/>).
    /// </summary>
    public static List<string?> SplitEventTypes(string? text)
        => [.. (text ?? "").Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>
    /// The service names a bad entry by its place in the list (eventTypes[2]); the form has one field for all of
    /// them, so their messages go beside it.
    /// </summary>
    public static void GatherEventTypeErrors(ModelStateDictionary state)
    {
        foreach (var key in state.Keys.Where(k => k.StartsWith("EventTypes[", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            foreach (var error in state[key]!.Errors)
            {
                state.AddModelError("EventTypes", error.ErrorMessage);
            }

            state.Remove(key);
        }
    }
}
