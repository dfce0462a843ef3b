using Tessera.Server.SignIn;

namespace Tessera.Server.BackOffice;

/// <summary>The signed-in Back Office user's current standing, loaded once per request.</summary>
public static class BackOfficeCaller
{
    private static readonly object Key = new();

    public static async Task<CallerState?> CallerAsync(this HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var cached))
        {
            return (CallerState?)cached;
        }

        CallerState? caller = null;
        if (Guid.TryParse(context.User.FindFirst(TesseraClaims.Subject)?.Value, out var id))
        {
            caller = await context.RequestServices.GetRequiredService<CallerDirectory>().GetAsync(id, context.RequestAborted);
        }

        context.Items[Key] = caller;
        return caller;
    }

    public static async Task<bool> HoldsAsync(this HttpContext context, string privilege)
        => await context.CallerAsync() is { } caller && caller.Privileges.Contains(privilege);
}
