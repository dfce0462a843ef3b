using System.Globalization;
using Microsoft.AspNetCore.Localization;
using Tessera.Core.Users;

namespace Tessera.Server.BackOffice.Localization;

/// <summary>
/// The Back Office speaks English and German. The language is the signed-in user's profile setting, else the
/// browser's Accept-Language, else English. Texts live in resource files under Resources/ (English is the key,
/// German the .de.resx), one per page (IViewLocalizer) plus <see cref="SharedText"/> for the layout, the failure
/// messages and the mail. The REST API is not localised: its problem details keep one stable language.
/// </summary>
public static class BackOfficeLocalization
{
    public static readonly CultureInfo[] Cultures = [.. UserPreferences.Languages.Select(CultureInfo.GetCultureInfo)];

    public static IServiceCollection AddTesseraLocalization(this IServiceCollection services)
    {
        services.AddLocalization(o => o.ResourcesPath = "Resources");
        services.AddScoped<UserTime>();
        services.Configure<RequestLocalizationOptions>(o =>
        {
            o.DefaultRequestCulture = new RequestCulture(UserPreferences.DefaultLanguage);
            o.SupportedCultures = Cultures;
            o.SupportedUICultures = Cultures;
            o.FallBackToParentCultures = true;
            o.FallBackToParentUICultures = true;
            o.RequestCultureProviders = [new ProfileLanguageProvider(), new AcceptLanguageHeaderRequestCultureProvider()];
        });
        return services;
    }

    /// <summary>Localises every request but the API's, after authentication so that the profile setting is known.</summary>
    public static IApplicationBuilder UseTesseraLocalization(this IApplicationBuilder app)
        => app.UseWhen(context => !IsApi(context.Request.Path), branch => branch.UseRequestLocalization());

    public static bool IsApi(PathString path)
        => path.StartsWithSegments("/api") || path.StartsWithSegments("/connect") || path.StartsWithSegments("/.well-known")
            || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/openapi");

    /// <summary>The language the signed-in user chose on the profile page (from the cached caller standing).</summary>
    private sealed class ProfileLanguageProvider : RequestCultureProvider
    {
        public override async Task<ProviderCultureResult?> DetermineProviderCultureResult(HttpContext httpContext)
        {
            if (httpContext.User.Identity?.IsAuthenticated != true)
            {
                return null;
            }

            var caller = await httpContext.CallerAsync();
            return UserPreferences.Language(caller?.Language) is { } language ? new ProviderCultureResult(language) : null;
        }
    }
}

/// <summary>The marker type of the shared Back Office texts (Resources/BackOffice/SharedText.de.resx).</summary>
public sealed class SharedText;
