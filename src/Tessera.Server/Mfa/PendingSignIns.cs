using Microsoft.AspNetCore.Authentication;
using Tessera.Core.Users;
using Tessera.Server.SignIn;

namespace Tessera.Server.Mfa;

/// <summary>
/// The pending sign-in (password done, second factor or enrolment owed) as the MFA pages use it: checked against the
/// user's current standing at every use, as a session is, so that a user disabled, locked or re-stamped (password
/// changed, MFA reset) between the two steps gets no further.
/// </summary>
public static class PendingSignIns
{
    public static async Task<PendingSignIn?> CurrentAsync(HttpContext http, PendingStage stage)
    {
        var pending = await http.RequestServices.GetRequiredService<SignInFlow>().PendingAsync(http);
        if (pending is null || pending.Stage != stage)
        {
            return null;
        }

        var caller = await http.RequestServices.GetRequiredService<CallerDirectory>().GetAsync(pending.UserId, http.RequestAborted);
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        if (caller is null || caller.Type != UserType.BackOffice || !caller.MayAct(now) || caller.StampDigest != pending.StampDigest)
        {
            await http.SignOutAsync(WebSessions.PendingScheme);
            return null;
        }

        return pending;
    }

    /// <summary>
    /// While a browser holds a pending sign-in and no session, every Back Office page sends it to the one step it owes
    /// (/signin/mfa or /profile/mfa): a user who must enrol reaches nothing else. Sign-out, sign-in (as someone else),
    /// static files, health and the API (bearer tokens, never this cookie) pass.
    /// </summary>
    public static IApplicationBuilder UsePendingSignInGate(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.Identity?.IsAuthenticated != true && context.Request.Cookies.ContainsKey("tessera.pending") && !Passes(context.Request.Path))
        {
            var pending = await context.RequestServices.GetRequiredService<SignInFlow>().PendingAsync(context);
            if (pending is not null)
            {
                context.Response.Redirect(pending.Stage == PendingStage.Enrolment ? "/profile/mfa" : "/signin/mfa");
                return;
            }
        }

        await next(context);
    });

    private static bool Passes(PathString path)
        => path.StartsWithSegments("/signin") || path.StartsWithSegments("/signout") || path.StartsWithSegments("/profile/mfa") || path.StartsWithSegments("/profile/passkeys")
            || path.StartsWithSegments("/api") || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/css")
            || path.StartsWithSegments("/js") || path.StartsWithSegments("/favicon.ico") || path.StartsWithSegments("/.well-known")
            || path.StartsWithSegments("/connect/token") || path.StartsWithSegments("/docs") || path.StartsWithSegments("/openapi");
}
