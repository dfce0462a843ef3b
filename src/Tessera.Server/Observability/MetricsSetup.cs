using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using OpenTelemetry.Metrics;

namespace Tessera.Server.Observability;

/// <summary>
/// `Tessera:Metrics`, read and checked once at the start: the registration itself depends on it (nothing is registered
/// while metrics are off), so it cannot wait for the options pattern's validation.
/// </summary>
/// <param name="Enabled">`Tessera:Metrics:Enabled`: serve /metrics in the Prometheus text format.</param>
/// <param name="Port">`Tessera:Metrics:Port`: serve /metrics on this port only, never on the public one.</param>
/// <param name="OtlpEndpoint">`Tessera:Metrics:OtlpEndpoint`, else `OTEL_EXPORTER_OTLP_ENDPOINT`: push the metrics there.</param>
public sealed record MetricsSettings(bool Enabled, int? Port, Uri? OtlpEndpoint)
{
    public const string Section = "Tessera:Metrics";
    public const string EnabledKey = Section + ":Enabled";
    public const string PortKey = Section + ":Port";
    public const string OtlpEndpointKey = Section + ":OtlpEndpoint";

    /// <summary>The standard variable of the OpenTelemetry exporters; the OTLP exporter reads it (and its siblings) itself.</summary>
    public const string StandardOtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Whether anything collects the metrics: a Prometheus scrape, an OTLP push, or both.</summary>
    public bool Collected => Enabled || OtlpEndpoint is not null;

    /// <summary>Reads and checks the settings; a wrong one stops the start with a message naming it.</summary>
    public static MetricsSettings From(IConfiguration configuration)
    {
        var enabledText = configuration[EnabledKey];
        var enabled = false;
        if (!string.IsNullOrWhiteSpace(enabledText) && !bool.TryParse(enabledText.Trim(), out enabled))
        {
            throw new InvalidOperationException($"{EnabledKey} must be true or false; it is '{enabledText}'.");
        }

        int? port = null;
        var portText = configuration[PortKey];
        if (!string.IsNullOrWhiteSpace(portText))
        {
            if (!int.TryParse(portText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed is < 1 or > 65535)
            {
                throw new InvalidOperationException($"{PortKey} must be a TCP port from 1 to 65535; it is '{portText}'.");
            }

            port = parsed;
        }

        var (endpointKey, endpointText) = !string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey])
            ? (OtlpEndpointKey, configuration[OtlpEndpointKey])
            : (StandardOtlpEndpointKey, configuration[StandardOtlpEndpointKey]);
        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(endpointText))
        {
            if (!Uri.TryCreate(endpointText.Trim(), UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https") || string.IsNullOrEmpty(endpoint.Host))
            {
                throw new InvalidOperationException($"{endpointKey} must be an absolute http or https URL of an OTLP collector (e.g. http://collector:4317); it is '{endpointText}'.");
            }
        }

        return new MetricsSettings(enabled, port, endpoint);
    }
}

/// <summary>
/// OpenTelemetry metrics: the product meter (<see cref="TesseraMetrics"/>), ASP.NET Core's and the runtime's, and
/// Npgsql's (its connection-pool use). Exposed at <see cref="Path"/> in the Prometheus text format when
/// `Tessera:Metrics:Enabled` is set, and pushed over OTLP when an endpoint is configured. Off, nothing is registered:
/// no listener, no collection, and /metrics is an unknown path like any other.
/// </summary>
public static class MetricsSetup
{
    public const string Path = "/metrics";

    /// <summary>Npgsql's meter: the connection pools (connections in use and idle, waiting requests) and command timings.</summary>
    public const string NpgsqlMeter = "Npgsql";

    public static WebApplicationBuilder AddTesseraMetrics(this WebApplicationBuilder builder)
    {
        var settings = MetricsSettings.From(builder.Configuration);
        builder.Services.AddSingleton(settings);
        if (!settings.Collected)
        {
            return builder;
        }

        AddCollection(builder, settings);
        if (settings is { Enabled: true, Port: { } port })
        {
            ListenAlsoOn(builder, port);
        }

        return builder;
    }

    /// <summary>
    /// OpenTelemetry's registration, in a method of its own: the runtime loads the assemblies a method refers to when
    /// it compiles that method, so while metrics are off (the default) OpenTelemetry's assemblies are never loaded.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddCollection(WebApplicationBuilder builder, MetricsSettings settings)
    {
        builder.Services.AddSingleton<OutboxGauges>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(TesseraMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation();

            // This host's meters only. OpenTelemetry listens to meters by name in the whole process; a second host in
            // the same process (the integration tests run many) has its own meter factory, and its counts are not ours.
            ((IDeferredMeterProviderBuilder)metrics).Configure((services, builder) =>
            {
                var own = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
                builder.AddView(instrument => instrument.Meter.Scope is System.Diagnostics.Metrics.IMeterFactory other && !ReferenceEquals(other, own)
                    ? MetricStreamConfiguration.Drop
                    : null);
            });
            if (settings.Enabled)
            {
                metrics.AddPrometheusExporter();
            }

            if (settings.OtlpEndpoint is not null)
            {
                // Without Tessera:Metrics:OtlpEndpoint the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _PROTOCOL,
                // _HEADERS) itself, appending /v1/metrics for http/protobuf as the specification says.
                metrics.AddOtlpExporter(o =>
                {
                    if (builder.Configuration[MetricsSettings.OtlpEndpointKey] is { Length: > 0 })
                    {
                        o.Endpoint = settings.OtlpEndpoint;
                    }
                });
            }
        });
    }

    /// <summary>
    /// Adds the metrics port to the addresses the service listens on, keeping the public ones. Calling Listen in
    /// ConfigureKestrel would make Kestrel drop every configured URL (--urls, ASPNETCORE_URLS, Urls,
    /// ASPNETCORE_HTTP_PORTS), so the port joins them instead; where Kestrel:Endpoints is configured (which in turn
    /// overrides the URLs), it joins those endpoints. The metrics port listens on every interface, as a scraper on
    /// another machine needs; the firewall, not the public load balancer, decides who reaches it.
    /// </summary>
    private static void ListenAlsoOn(WebApplicationBuilder builder, int port)
    {
        var url = $"http://*:{port.ToString(CultureInfo.InvariantCulture)}";
        if (builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            builder.Configuration["Kestrel:Endpoints:TesseraMetrics:Url"] = url;
            return;
        }

        var urls = builder.Configuration[WebHostDefaults.ServerUrlsKey];
        if (string.IsNullOrWhiteSpace(urls))
        {
            // What Kestrel would have listened on without this port: ASPNETCORE_HTTP(S)_PORTS, else its default.
            var ports = Ports(builder.Configuration[WebHostDefaults.HttpPortsKey], "http")
                .Concat(Ports(builder.Configuration[WebHostDefaults.HttpsPortsKey], "https")).ToList();
            urls = ports.Count > 0 ? string.Join(';', ports) : "http://localhost:5000";
        }

        builder.WebHost.UseUrls([.. urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), url]);
    }

    private static IEnumerable<string> Ports(string? list, string scheme)
        => (list ?? "").Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"{scheme}://*:{p}");

    /// <summary>
    /// Answers /metrics before anything else in the pipeline: a scraper needs no sign-in, no language, no bootstrap (a
    /// scrape while the database is down is when the figures matter most), and is never rate limited. With
    /// `Tessera:Metrics:Port`, /metrics answers on that port only, the public port answers it 404 like any unknown
    /// path, and the metrics port serves nothing else.
    /// </summary>
    public static WebApplication UseTesseraMetrics(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<MetricsSettings>();
        if (!settings.Enabled)
        {
            return app;
        }

        ServeScrapes(app, settings);
        return app;
    }

    /// <summary>The scraping endpoint, in a method of its own for the reason given at <see cref="AddCollection"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ServeScrapes(WebApplication app, MetricsSettings settings)
    {
        // The gauges observe from their first scrape on.
        app.Services.GetRequiredService<OutboxGauges>();
        if (settings.Port is not { } port)
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint(context => IsMetricsPath(context));
            return;
        }

        app.UseOpenTelemetryPrometheusScrapingEndpoint(context => context.Connection.LocalPort == port && IsMetricsPath(context));
        app.Use((context, next) =>
        {
            if (context.Connection.LocalPort == port)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
    }

    private static bool IsMetricsPath(HttpContext context)
        => context.Request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase) && HttpMethods.IsGet(context.Request.Method);
}
