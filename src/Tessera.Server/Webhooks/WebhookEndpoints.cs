using Microsoft.AspNetCore.Http.HttpResults;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Http;

namespace Tessera.Server.Webhooks;

/// <summary>The webhook subscriptions API under MANAGE_WEBHOOKS: thin bindings over <see cref="WebhookService"/>.</summary>
public static class WebhookEndpoints
{
    public static IServiceCollection AddTesseraWebhookApi(this IServiceCollection services)
    {
        services.AddSingleton<WebhookUrlRules>();
        services.AddScoped<WebhookService>();
        return services;
    }

    public static IEndpointRouteBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        var webhooks = app.MapGroup("/api/v1/webhooks").WithTags("Webhooks").RequirePrivilege(Privileges.ManageWebhooks);

        webhooks.MapGet("/", async Task<Results<Ok<WebhookPage>, ProblemHttpResult>> ([AsParameters] WebhookQuery query, WebhookService service, CancellationToken ct)
                => Ok(await service.ListAsync(query, ct)))
            .WithSummary("Lists the webhook subscriptions, newest first, with a keyset cursor. Secrets are never shown.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        webhooks.MapPost("/", async Task<Results<Created<WebhookResponse>, ProblemHttpResult>> (CreateWebhookRequest request, WebhookService service, CancellationToken ct) =>
            {
                var outcome = await service.CreateAsync(request, ct);
                return outcome.Succeeded ? TypedResults.Created($"/api/v1/webhooks/{outcome.Value!.Id}", outcome.Value) : Problem(outcome.Failure!);
            })
            .WithSummary("Creates a subscription: an https URL (http to a private address only where allowed), the audit actions it receives, and a Standard Webhooks secret (generated when left out) shown in this answer only.")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        webhooks.MapGet("/{id:guid}", async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> (Guid id, WebhookService service, CancellationToken ct)
                => Ok(await service.GetAsync(id, ct)))
            .WithSummary("A subscription, without its secret.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        webhooks.MapPut("/{id:guid}", async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> (Guid id, UpdateWebhookRequest request, WebhookService service, CancellationToken ct)
                => Ok(await service.UpdateAsync(id, request, ct)))
            .WithSummary("Replaces url, description, eventTypes and enabled; a secret given replaces the old one and is shown in this answer only, left out keeps it. Disabling abandons the pending deliveries.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        webhooks.MapDelete("/{id:guid}", async Task<Results<NoContent, ProblemHttpResult>> (Guid id, WebhookService service, CancellationToken ct)
                => await service.DeleteAsync(id, ct) is { } failure ? Problem(failure) : TypedResults.NoContent())
            .WithSummary("Deletes a subscription with its delivery log; deliveries still pending are not sent.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        webhooks.MapGet("/{id:guid}/deliveries", async Task<Results<Ok<WebhookDeliveryPage>, ProblemHttpResult>> (
                    Guid id, [AsParameters] WebhookDeliveryQuery query, WebhookService service, CancellationToken ct)
                => Ok(await service.DeliveriesAsync(id, query, ct)))
            .WithSummary("The subscription's delivery log, newest first: status pending, delivered or abandoned; keyset cursor.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        return app;
    }

    private static Results<Ok<T>, ProblemHttpResult> Ok<T>(Outcome<T> outcome)
        => outcome.Succeeded ? TypedResults.Ok(outcome.Value) : Problem(outcome.Failure!);

    /// <summary><see cref="Problems.From"/> answers every failure of these use cases with a problem (none defers to approval).</summary>
    private static ProblemHttpResult Problem(Failure failure) => (ProblemHttpResult)Problems.From(failure);
}
