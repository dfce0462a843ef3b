using System.ComponentModel;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Server.Http;

namespace Tessera.Server.Governance;

public static class AccessReviewEndpoints
{
    public static IEndpointRouteBuilder MapAccessReviews(this IEndpointRouteBuilder app)
    {
        var reviews = app.MapGroup("/api/v1/access-reviews").WithTags("Access reviews");

        reviews.MapPost("/", async (CreateAccessReviewRequest request, AccessReviewService service, CancellationToken ct) =>
        {
            var outcome = await service.CreateAsync(request, ct);
            return outcome.Succeeded ? Results.Created($"/api/v1/access-reviews/{outcome.Value!.Id}", outcome.Value) : Problems.From(outcome.Failure!);
        }).RequirePrivilege(Privileges.ManageGovernance)
          .WithSummary("Creates a review campaign over roles and groups; its items are the assignments in scope at this moment.");

        reviews.MapGet("/", async ([Description("true: only the campaigns the caller reviews (a caller without MANAGE_GOVERNANCE always sees only those).")] bool? mine,
                AccessReviewService service, CancellationToken ct) => Results.Ok(await service.ListAsync(mine == true, ct)))
            .RequireCaller().WithSummary("Review campaigns, newest first, with their progress.");

        reviews.MapGet("/{id:guid}", async (Guid id, AccessReviewService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequireCaller().WithSummary("A campaign: scope, reviewers, due date, status (open or closed, overdue) and progress.");

        reviews.MapGet("/{id:guid}/items", async (Guid id, [AsParameters] AccessReviewItemQuery query, AccessReviewService service, CancellationToken ct)
                => (await service.ItemsAsync(id, query, ct)).ToOk())
            .RequireCaller().WithSummary("The campaign's items, by username, filtered by decision; keyset cursor.");

        reviews.MapPost("/{id:guid}/decisions", async (Guid id, AccessReviewDecisionsRequest request, AccessReviewService service, CancellationToken ct)
                => (await service.DecideAsync(id, request, ct)).ToOk())
            .RequireCaller().WithSummary("A reviewer marks items keep or revoke (all or none); a decision may change until the campaign closes.");

        reviews.MapPost("/{id:guid}/close", async (Guid id, AccessReviewService service, CancellationToken ct) => (await service.CloseAsync(id, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGovernance).Delegated()
            .WithSummary("Closes the campaign and applies every revoke decision through the directory's rules; each item records its outcome.");

        reviews.MapGet("/{id:guid}/report", async (Guid id, [Description("csv (the default) or json.")] string? format, AccessReviewService service, HttpContext context, CancellationToken ct) =>
        {
            var kind = (format ?? "csv").Trim().ToLowerInvariant();
            if (kind is not ("csv" or "json"))
            {
                return Problems.From(Failure.Invalid("validation_failed", "format is csv or json.", new Dictionary<string, string[]> { ["format"] = ["format is csv or json."] }));
            }

            var outcome = await service.ReportAsync(id, ct);
            if (!outcome.Succeeded)
            {
                return Problems.From(outcome.Failure!);
            }

            var report = outcome.Value!;
            return kind == "csv"
                ? Results.Stream(body => report.WriteCsvAsync(body, context.RequestAborted), "text/csv; charset=utf-8", report.FileName("csv"))
                : Results.Stream(body => report.WriteJsonAsync(body, context.RequestAborted), "application/json; charset=utf-8", report.FileName("json"));
        }).RequireCaller().WithSummary("The completion report of every item, streamed as CSV (with a header) or JSON.");

        return app;
    }
}
