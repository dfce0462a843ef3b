using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Scalar.AspNetCore;
using Tessera.Server;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Access;
using Tessera.Server.AgentAssist;
using Tessera.Server.ApiCredentials;
using Tessera.Server.Governance;
using Tessera.Server.Customers;
using Tessera.Server.Groups;
using Tessera.Server.Roles;
using Tessera.Server.Users;
using Tessera.Server.Audit;
using Tessera.Server.Bootstrap;
using Tessera.Server.Credentials;
using Tessera.Server.Http;
using Tessera.Server.Mail;
using Tessera.Server.Mfa;
using Tessera.Server.Observability;
using Tessera.Server.Passkeys;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;
using Tessera.Server.Webhooks;

// The content root is the application's own folder, so its appsettings.json (and wwwroot) apply however
// and from wherever the service is started; unless one is named (--contentRoot, ASPNETCORE_CONTENTROOT), as
// the integration tests' host does. Relative paths in settings (the SQLite file, the mail outbox, templates,
// the certificate) still resolve against the working directory: the folder the service is started from.
var namedContentRoot = new ConfigurationBuilder().AddEnvironmentVariables("DOTNET_").AddEnvironmentVariables("ASPNETCORE_")
    .AddCommandLine(args).Build()[WebHostDefaults.ContentRootKey];
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = namedContentRoot is null ? AppContext.BaseDirectory : null });

builder.Services.AddTesseraLogRedaction();

builder.Services.AddOptions<TesseraOptions>().Bind(builder.Configuration.GetSection("Tessera")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.Configure<BootstrapOptions>(builder.Configuration.GetSection("Tessera:Bootstrap"));
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddHttpContextAccessor();
builder.Services.AddMetrics();
builder.Services.AddSingleton<Tessera.Server.Observability.TesseraMetrics>();
builder.AddTesseraMetrics();
builder.Services.AddTesseraStorage(builder.Configuration);
builder.Services.AddDataProtection().SetApplicationName("Tessera").PersistKeysToDbContext<TesseraDbContext>().ProtectKeysAtRest(builder.Configuration);
builder.Services.AddTesseraProblems();
builder.Services.AddTesseraStrictJson();
builder.Services.AddTesseraTrustedProxies(builder.Configuration);
builder.Services.AddTesseraTransportSecurity();
builder.Services.AddOpenApi(o =>
{
    o.AddTesseraContract();
    DelegatedChanges.AddRefusals(o);
});
builder.Services.Configure<PasswordHasherOptions>(o => o.IterationCount = PasswordHashing.Iterations);
builder.Services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
builder.Services.AddSingleton<CredentialTokens>();
builder.Services.AddTesseraAudit();
builder.Services.AddScoped<DirectoryOverview>();
builder.Services.AddScoped<PreferencesService>();
builder.Services.AddScoped<Bootstrapper>();
builder.Services.AddSingleton<BootstrapGate>();
builder.Services.AddSingleton<Tessera.Core.Credentials.ICommonPasswords, Tessera.Core.Credentials.CommonPasswords>();
builder.Services.AddSingleton<Tessera.Core.Credentials.IPasswordStrengthEstimator, Tessera.Core.Credentials.ZxcvbnEstimator>();
builder.Services.AddTesseraCredentials();
builder.Services.AddTesseraApiCredentials();
builder.Services.AddTesseraAccessLapseSweep();
builder.Services.AddTesseraRateLimits(builder.Configuration);
builder.Services.AddScoped<Tessera.Server.Changes.DirectoryPipeline>();
builder.Services.AddScoped<UserService>();
builder.Services.AddScoped<SignInFlow>();
builder.Services.AddTesseraMfa();
builder.Services.AddScoped<UserSearch>();
builder.Services.AddScoped<BulkUserActions>();
builder.Services.AddScoped<RoleService>();
builder.Services.AddScoped<Tessera.Server.Roles.RoleHolders>();
builder.Services.AddScoped<GroupService>();
builder.Services.AddScoped<AccessReviewService>();
builder.Services.AddScoped<Tessera.Server.Changes.IChangeReplay, AccessRevocationReplay>();
builder.Services.AddTesseraApprovals();
builder.Services.AddScoped<SodConstraintService>();
builder.Services.AddScoped<AccessReport>();
builder.Services.AddScoped<Tessera.Server.Changes.IChangeReplay, SodConstraintReplay>();
builder.Services.AddTesseraMail(builder.Configuration);
builder.Services.AddTesseraAgentAssist(builder.Configuration);
builder.Services.AddOptions<Tessera.Server.Webhooks.WebhookOptions>().Bind(builder.Configuration.GetSection("Tessera:Webhooks")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<Tessera.Server.Webhooks.WebhookSubscriptionCache>();
builder.Services.AddSingleton<Tessera.Server.Webhooks.WebhookSecrets>();
builder.Services.AddTesseraWebhookApi();
Tessera.Server.Webhooks.WebhookDeliverySetup.AddTesseraWebhookDelivery(builder.Services);
builder.Services.AddTesseraPasskeys(builder.Configuration);

builder.Services.AddTesseraTokenServer(builder.Configuration);
builder.Services.AddTesseraSessions(builder.Configuration).AddTesseraSso(builder.Configuration);
builder.Services.AddAuthorization();
builder.Services.AddSingleton<IAuthorizationHandler, PrivilegeHandler>();
builder.Services.AddTesseraLocalization();
builder.Services.AddRazorPages(o =>
{
    o.RootDirectory = "/BackOffice/Pages";
    o.Conventions.AuthorizeFolder("/");
}).AddViewLocalization();
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
builder.Services.LoadDataProtectionKeysBehindTheGate();

var app = builder.Build();

if (args.Contains("migrate"))
{
    try
    {
        await app.Services.GetRequiredService<BootstrapGate>().MigrateAsync(CancellationToken.None);
        Console.WriteLine("Tessera: the database schema is up to date.");
    }
    catch (Exception e)
    {
        app.Services.GetRequiredService<ILogger<Program>>().LogCritical(e, "The migration failed.");
        Environment.ExitCode = 1;
    }

    await app.DisposeAsync();
    return;
}

// Migrations and the bootstrap run beside the start, retried while the database does not answer; the host
// listens meanwhile (/healthz/live answers) and the gate holds or refuses every other request until they are done.
app.Services.GetRequiredService<BootstrapGate>().Start();

// First: a scraper needs no proxy, transport, bootstrap, language or limit handling (see MetricsSetup).
app.UseTesseraMetrics();
app.UseTesseraTrustedProxies();
app.UseTesseraTransportSecurity();
app.UseBootstrapGate();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseSecurityHeaders();
app.UseStaticFiles();
app.UseRouting();
// Before authentication: OpenIddict answers /connect/token there, and no limit needs to know the user.
app.UseRateLimiter();
// A repeat client's plain client-credentials token, answered before OpenIddict (see RepeatClientTokens).
app.UseRepeatClientTokens();
app.UseAuthentication();
app.UsePendingSignInGate();
app.UseTesseraLocalization();
app.UseAuthorization();
app.UseStrictRequests();

app.MapOpenApi();
app.MapScalarApiReference("/docs");
app.MapHealth();
app.MapSignIn();
app.MapSessions();
app.MapAuthorization();
app.MapUsers();
app.MapRoles();
app.MapGroups();
app.MapApprovals();
app.MapSodConstraints();
app.MapAccessReport();
app.MapAccess();
app.MapAuthorizeBatch();
app.MapAudit();
app.MapOverview();
app.MapPreferences();
app.MapCredentials();
app.MapApiCredentials();
app.MapCustomers();
app.MapAgentAssist();
app.MapMfa();
app.MapPasskeys();
app.MapWebhooks();
app.MapAccessReviews();
app.MapRazorPages();
// The fallback takes JSON bodies only, as every API endpoint does: a body of another type to an endpoint is then a 415, not a 404.
app.MapFallback("/api/{**path}", (HttpContext context) =>
    Problems.Of(StatusCodes.Status404NotFound, "not_found", $"No API endpoint answers {context.Request.Method} {context.Request.Path}."))
    .WithMetadata(new Microsoft.AspNetCore.Http.Metadata.AcceptsMetadata(["application/json"], isOptional: true));

app.Run();

/// <summary>The entry point, visible to the integration tests' host factory.</summary>
public partial class Program;
