using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Tessera.Server.Http;

/// <summary>
/// Behind a reverse proxy or load balancer, the client's address and scheme arrive in
/// X-Forwarded-For and X-Forwarded-Proto. Tessera believes them only from the proxies an operator
/// names in <c>Tessera:Http:TrustedProxies</c> (addresses or CIDR networks), walking the chain from
/// the nearest hop back to the first address no trusted proxy vouches for. With none named (the
/// default) the headers are ignored, so no client can choose the address that the audit log records
/// and that the rate limits count by.
/// </summary>
public static class TrustedProxies
{
    public const string Setting = "Tessera:Http:TrustedProxies";

    public static IServiceCollection AddTesseraTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        // A list (Tessera__Http__TrustedProxies__0=...) or one comma-separated value.
        var section = configuration.GetSection(Setting);
        var entries = section.Value is { } single ? single.Split(',') : section.Get<string[]>() ?? [];
        var (addresses, networks) = Parse(entries);
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.ForwardLimit = null; // as many hops as trusted proxies vouch for
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var address in addresses)
            {
                o.KnownProxies.Add(address);
            }

            foreach (var network in networks)
            {
                o.KnownIPNetworks.Add(network);
            }
        });
        return services;
    }

    /// <summary>First in the pipeline, so that every later part (audit, rate limits, cookies, OpenIddict) sees the client.</summary>
    public static IApplicationBuilder UseTesseraTrustedProxies(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<ForwardedHeadersOptions>>().Value;
        return options.KnownProxies.Count + options.KnownIPNetworks.Count > 0 ? app.UseForwardedHeaders() : app;
    }

    internal static (List<IPAddress> Addresses, List<System.Net.IPNetwork> Networks) Parse(IEnumerable<string> entries)
    {
        var addresses = new List<IPAddress>();
        var networks = new List<System.Net.IPNetwork>();
        foreach (var raw in entries)
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
            {
                continue;
            }

            if (IPAddress.TryParse(entry, out var address))
            {
                addresses.Add(address);
            }
            else if (System.Net.IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else
            {
                throw new InvalidOperationException(
                    $"{Setting} holds '{entry}', which is neither an IP address nor a CIDR network (such as 10.0.0.0/8).");
            }
        }

        return (addresses, networks);
    }
}
