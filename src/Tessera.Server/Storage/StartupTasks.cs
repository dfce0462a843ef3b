using Tessera.Server.Bootstrap;

namespace Tessera.Server.Storage;

public static class StartupTasks
{
    /// <summary>Applies pending migrations, then (unless only migrating) makes the installation ready.</summary>
    public static async Task MigrateAndBootstrapAsync(this WebApplication app, bool bootstrap)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
        await db.MigrateAsync(app.Lifetime.ApplicationStopping);
        if (bootstrap)
        {
            await scope.ServiceProvider.GetRequiredService<Bootstrapper>().RunAsync(app.Lifetime.ApplicationStopping);
        }
    }
}
