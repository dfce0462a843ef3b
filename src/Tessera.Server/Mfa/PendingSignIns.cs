using Microsoft.AspNetCore.Authentication;
using Tessera.Core.Users;
using Tessera.Server.SignIn;

namespace Tessera.Server.Mfa;

/// <summary>The pending sign-in (password done, second factor or enrolment owed) keeps the browser on its one step.</summary>
public static class PendingSignIns
{
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
