using Tessera.Server.Bootstrap;

namespace Tessera.Server.Storage;

public static class StartupTasks
{
    /// <summary>
    /// Applies pending migrations and fills what they could not (<see cref="SkeletonBackfill"/>), then (unless only migrating) starts making the installation ready:
    /// the bootstrap runs beside the rest of the start, behind <see cref="BootstrapGate"/>.
    /// </summary>
    public static async Task MigrateAndBootstrapAsync(this WebApplication app, bool bootstrap)
    {
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TesseraDbContext>();
            await db.MigrateAsync(app.Lifetime.ApplicationStopping);
            await SkeletonBackfill.RunAsync(db, app.Lifetime.ApplicationStopping);
        }

        if (bootstrap)
        {
            app.Services.GetRequiredService<BootstrapGate>().Start();
        }
    }
}
