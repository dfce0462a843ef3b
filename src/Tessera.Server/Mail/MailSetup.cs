using Microsoft.Extensions.Options;

namespace Tessera.Server.Mail;

public static class MailSetup
{
    /// <summary>Registers `Tessera:Mail` (validated at start), the templates, the outbox and its dispatcher.</summary>
    public static IServiceCollection AddTesseraMail(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MailOptions>().Bind(configuration.GetSection(MailOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MailOptions>, MailOptionsValidator>();
        services.AddSingleton<MailTemplates>();
        services.AddSingleton<OutboxBodies>();
        services.AddScoped<MailOutbox>();
        services.AddHostedService<OutboxDispatcher>();
        return services;
    }
}
