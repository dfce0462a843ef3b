using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.SignIn;

/// <summary>`Tessera:Sso:Providers:{name}`: one OpenID Connect provider people may sign in with.</summary>
public sealed class SsoProviderOptions
{
    /// <summary>`Oidc` (give Authority), `Google`, or `Entra` (give TenantId).</summary>
    public string Kind { get; set; } = "Oidc";
    public string? DisplayName { get; set; }
    public string? Authority { get; set; }
    public string? TenantId { get; set; }
    public string ClientId { get; set; } = "";
    public string? ClientSecret { get; set; }
    public List<string> Scopes { get; set; } = [];

    /// <summary>Create an unknown identity as an invited BackOffice user with no roles, instead of refusing it.</summary>
    public bool AutoProvision { get; set; }

    /// <summary>Only for a provider on a loopback http address in tests or development.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public string ResolvedAuthority => Kind.ToUpperInvariant() switch
    {
        "GOOGLE" => Authority ?? "https://accounts.google.com",
        "ENTRA" => Authority ?? $"https://login.microsoftonline.com/{TenantId}/v2.0",
        _ => Authority ?? "",
    };

    public string ResolvedDisplayName(string name) => DisplayName ?? Kind.ToUpperInvariant() switch
    {
        "GOOGLE" => "Google",
        "ENTRA" => "Microsoft",
        _ => name,
    };
}

/// <summary>A configured provider as the sign-in page shows it.</summary>
/// <param name="Kind">`google`, `entra` or `oidc`: the `method` label of the sign-in metrics (a provider's name is the operator's free text).</param>
public sealed record SsoProvider(string Name, string DisplayName, string Scheme, bool AutoProvision, string Kind = "oidc");

/// <summary>The configured providers.</summary>
public sealed class SsoProviders(IReadOnlyList<SsoProvider> all)
{
    public IReadOnlyList<SsoProvider> All => all;

    public SsoProvider? Find(string name) => all.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Why an SSO sign-in was refused; the sign-in page shows a sentence for each.</summary>
public enum SsoRefusal
{
    None,
    UnknownIdentity,
    UnverifiedEmail,
    NotBackOffice,
    Disabled,
    PasswordUser,
    Provisioned,
    Failed,
}

/// <summary>
/// Single sign-on through the ASP.NET Core OpenID Connect handler (authorization code + PKCE), one
/// scheme per configured provider. The first sign-in matches the provider's verified email to a
/// BackOffice user in SSO mode and remembers (provider, subject); later sign-ins match the subject.
/// </summary>
public static class SingleSignOn
{
    /// <summary>The longest `login_hint` forwarded to a provider: the longest possible email address.</summary>
    public const int MaxLoginHintLength = 254;

    public static AuthenticationBuilder AddTesseraSso(this AuthenticationBuilder auth, IConfiguration configuration)
    {
        var providers = new List<SsoProvider>();
        foreach (var section in configuration.GetSection("Tessera:Sso:Providers").GetChildren())
        {
            var name = section.Key;
            var o = section.Get<SsoProviderOptions>() ?? new SsoProviderOptions();
            if (string.IsNullOrWhiteSpace(o.ClientId) || string.IsNullOrWhiteSpace(o.ResolvedAuthority)
                || (o.Kind.Equals("Entra", StringComparison.OrdinalIgnoreCase) && string.IsNullOrWhiteSpace(o.TenantId) && o.Authority is null))
            {
                throw new InvalidOperationException($"Tessera:Sso:Providers:{name} needs ClientId and an Authority (Kind Oidc), or Kind Google, or Kind Entra with TenantId.");
            }

            var scheme = "sso-" + name.ToLowerInvariant();
            var kind = o.Kind.ToUpperInvariant() switch { "GOOGLE" => "google", "ENTRA" => "entra", _ => "oidc" };
            providers.Add(new SsoProvider(name, o.ResolvedDisplayName(name), scheme, o.AutoProvision, kind));
            auth.AddOpenIdConnect(scheme, o.ResolvedDisplayName(name), oidc =>
            {
                oidc.Authority = o.ResolvedAuthority;
                oidc.ClientId = o.ClientId;
                oidc.ClientSecret = o.ClientSecret;
                oidc.ResponseType = OpenIdConnectResponseType.Code;
                oidc.UsePkce = true;

                // The code comes back in the query of a top-level GET: code flow with PKCE keeps it
                // useless to anyone who copies it, and unlike form_post it needs no script-driven
                // cross-site POST, so Lax correlation and nonce cookies are enough.
                oidc.ResponseMode = OpenIdConnectResponseMode.Query;
                oidc.CorrelationCookie.SameSite = SameSiteMode.Lax;
                oidc.NonceCookie.SameSite = SameSiteMode.Lax;

                // Secure whenever the request is https (every deployment); over plain http on a
                // loopback development or test address they must still round-trip.
                oidc.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                oidc.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                oidc.SignInScheme = WebSessions.ExternalScheme;
                oidc.CallbackPath = $"/signin/sso/{name.ToLowerInvariant()}/callback";
                oidc.SignedOutCallbackPath = $"/signin/sso/{name.ToLowerInvariant()}/signed-out";
                oidc.RequireHttpsMetadata = o.RequireHttpsMetadata;
                oidc.MapInboundClaims = false;
                oidc.GetClaimsFromUserInfoEndpoint = true;
                oidc.SaveTokens = false;
                oidc.Scope.Clear();
                foreach (var scope in o.Scopes.Count > 0 ? o.Scopes : ["openid", "email", "profile"])
                {
                    oidc.Scope.Add(scope);
                }

                oidc.ClaimActions.MapUniqueJsonKey("email_verified", "email_verified");
                oidc.ClaimActions.MapUniqueJsonKey("xms_edov", "xms_edov");
                oidc.Events.OnRedirectToIdentityProvider = context =>
                {
                    // The redirect URI from Tessera:PublicUrl, as registered at the provider, rather than from the
                    // request's scheme and Host header, which a proxy may rewrite and a client may choose. The
                    // handler keeps it for the code redemption.
                    var tessera = context.HttpContext.RequestServices.GetRequiredService<IOptions<TesseraOptions>>().Value;
                    context.ProtocolMessage.RedirectUri = tessera.Link(context.Options.CallbackPath);

                    // Set here rather than in the options: it varies per challenge. With PAR the handler
                    // pushes this message afterwards, so the hint travels in the pushed request too.
                    if (context.Properties.GetParameter<string>(OpenIdConnectParameterNames.LoginHint) is { Length: > 0 } hint)
                    {
                        context.ProtocolMessage.LoginHint = hint;
                    }

                    return Task.CompletedTask;
                };
                oidc.Events.OnRemoteFailure = context =>
                {
                    context.Response.Redirect("/signin?sso=" + SsoRefusal.Failed);
                    context.HandleResponse();
                    return Task.CompletedTask;
                };
            });
        }

        auth.Services.AddSingleton(new SsoProviders(providers));
        auth.Services.AddScoped<SsoSignIn>();
        return auth;
    }
}

/// <summary>Decides what an identity from a provider may do here.</summary>
public sealed class SsoSignIn(TesseraDbContext db, AuditLog audit, CallerDirectory callers, TimeProvider clock, Observability.TesseraMetrics metrics)
{
    public async Task<(User? User, SsoRefusal Refusal)> CompleteAsync(SsoProvider provider, ClaimsPrincipal external, CancellationToken ct)
    {
        var subject = external.FindFirstValue("sub");
        var email = external.FindFirstValue("email") is { } claimed ? Usernames.Canonical(claimed) : null;
        var verified = IsTrue(external.FindFirstValue("email_verified")) || IsTrue(external.FindFirstValue("xms_edov"));
        var now = clock.GetUtcNow().UtcDateTime;
        if (string.IsNullOrEmpty(subject))
        {
            return Refuse(SsoRefusal.Failed, provider, email, "no_subject");
        }

        var login = await db.ExternalLogins.SingleOrDefaultAsync(l => l.Provider == provider.Name && l.Subject == subject, ct);
        User? user = login is null ? null : await db.Users.SingleOrDefaultAsync(u => u.Id == login.UserId, ct);
        if (user is null)
        {
            if (string.IsNullOrEmpty(email) || !verified)
            {
                return Refuse(SsoRefusal.UnverifiedEmail, provider, email, "unverified_email");
            }

            var normalized = Usernames.Normalize(email);
            user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalized, ct);
            if (user is null)
            {
                if (!provider.AutoProvision)
                {
                    return Refuse(SsoRefusal.UnknownIdentity, provider, email, "unknown_identity");
                }

                // An address that reads like an existing user's (a Cyrillic "а" for an "a") gets no account of its own.
                if (await LookAlikes.UserAsync(db, null, email, null, ct) is not null)
                {
                    return Refuse(SsoRefusal.UnknownIdentity, provider, email, "confusable_email");
                }

                user = await ProvisionAsync(email, external, now, ct);
                db.ExternalLogins.Add(new ExternalLogin { Provider = provider.Name, Subject = subject, UserId = user.Id, CreatedAt = now });
                audit.Record(db, "user.created", "user", user.Id.ToString(), user.Username, new { provisionedBy = provider.Name, type = "backoffice", credentialMode = "sso" },
                    actor: Actor.System with { ClientIp = audit.CurrentActor().ClientIp });
                await db.SaveChangesAsync(ct);
                return (user, SsoRefusal.Provisioned);
            }

            var refusal = Standing(user, now);
            if (refusal != SsoRefusal.None)
            {
                return Refuse(refusal, provider, email, refusal.ToString());
            }

            db.ExternalLogins.Add(new ExternalLogin { Provider = provider.Name, Subject = subject, UserId = user.Id, CreatedAt = now });
        }
        else if (Standing(user, now) is var refusal && refusal != SsoRefusal.None)
        {
            return Refuse(refusal, provider, email, refusal.ToString());
        }
        else if (user.Status == UserStatus.Invited)
        {
            // Provisioned on an earlier visit: waits until an administrator activates the account.
            return Refuse(SsoRefusal.Provisioned, provider, email, "awaiting_activation");
        }

        user.Apply(user.Standing.SignedIn(now));
        user.LastSignInAt = now;
        audit.Record(db, "signin.sso", "user", user.Id.ToString(), user.Username, new { provider = provider.Name },
            actor: audit.CurrentActor() with { Id = user.Id, Name = user.Username });
        await db.SaveChangesAsync(ct);
        callers.Invalidate();
        return (user, SsoRefusal.None);
    }

    private static SsoRefusal Standing(User user, DateTime now) => user switch
    {
        _ when Usernames.IsReserved(user.Username) || user.Type != UserType.BackOffice => SsoRefusal.NotBackOffice,
        _ when !user.Standing.MaySignInAt(now) => SsoRefusal.Disabled,
        _ when user.CredentialMode != CredentialMode.Sso => SsoRefusal.PasswordUser,
        _ => SsoRefusal.None,
    };

    private (User?, SsoRefusal) Refuse(SsoRefusal refusal, SsoProvider provider, string? email, string reason)
    {
        audit.Record(db, "signin.sso", "user", null, email, new { provider = provider.Name, reason }, "failure",
            audit.CurrentActor() with { Id = null, Name = email ?? "unknown" });
        db.SaveChanges();
        metrics.SignIn(refusal == SsoRefusal.Disabled ? Observability.SignInOutcomes.Disabled : Observability.SignInOutcomes.Failure, provider.Kind);
        return (null, refusal);
    }

    private async Task<User> ProvisionAsync(string email, ClaimsPrincipal external, DateTime now, CancellationToken ct)
    {
        var local = new string(email.Split('@')[0].Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-').ToArray());
        if (local.Length < Usernames.MinLength)
        {
            local = (local + "user").PadRight(Usernames.MinLength, '0');
        }

        local = local.Length > 56 ? local[..56] : local;
        var username = local;
        // Numbered until neither the name nor a look-alike ("jane1" and "janel") is taken.
        for (var n = 2; await db.Users.AnyAsync(u => u.NormalizedUsername == Usernames.Normalize(username) || u.UsernameSkeleton == Skeletons.Of(username), ct); n++)
        {
            username = $"{local}{n}";
        }

        var user = new User
        {
            Username = "", NormalizedUsername = "", Email = "", NormalizedEmail = "",
            Type = UserType.BackOffice, Status = UserStatus.Invited, CredentialMode = CredentialMode.Sso, CreatedAt = now, UpdatedAt = now,
        };
        user.SetUsername(username);
        user.SetEmail(email);
        user.SetNames(external.FindFirstValue("given_name"), external.FindFirstValue("family_name"));
        db.Users.Add(user);
        return user;
    }

    private static bool IsTrue(string? value) => value is not null && (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value == "1");
}
