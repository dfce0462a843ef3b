using System.ComponentModel;
using Tessera.Core.Access;
using Tessera.Core.Governance;
using Tessera.Server.Changes;
using Tessera.Server.Http;

namespace Tessera.Server.Governance;

/// <summary>The approval policy and the change requests of four-eyes approval (README, "Four-eyes approval").</summary>
public static class ApprovalEndpoints
{
    public static IServiceCollection AddTesseraApprovals(this IServiceCollection services)
    {
        services.AddSingleton<ApprovalPolicyCache>();
        services.AddScoped<ApprovalPolicyService>();
        services.AddScoped<ApprovalContext>();
        services.AddScoped<ApprovalDeferral>();
        services.AddScoped<ChangeRequestService>();
        services.AddScoped<IChangeReplay, DirectoryChangeReplay>();
        services.AddSingleton<ChangeRequestExpiry>();
        services.AddHostedService(sp => sp.GetRequiredService<ChangeRequestExpiry>());
        return services;
    }

    public static IEndpointRouteBuilder MapApprovals(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Four-eyes approval");

        api.MapGet("/approval-policy", async (ApprovalPolicyService service, CancellationToken ct) => (await service.ReadAsync(ct)).ToOk())
            .RequireCaller()
            .WithSummary("MANAGE_GOVERNANCE or APPROVE_CHANGES. The approval policy: the operations that need a second person, and requestLifetimeHours.");
        api.MapPut("/approval-policy", async (ApprovalPolicy policy, ApprovalPolicyService service, CancellationToken ct) => (await service.SetPolicyAsync(policy, ct)).ToOk())
            .RequirePrivilege(Privileges.ManageGovernance).Approvable()
            .WithSummary("Replaces the approval policy; removing an operation while any is on is itself sent for approval (202, operation change_approval_policy).");

        var requests = api.MapGroup("/change-requests");
        requests.MapGet("", async (
                [Description("pending, approved, rejected, failed, expired or withdrawn; every status when left out.")] string? status,
                [Description($"Requests per page: 1 to 200, 50 when left out.")] int? limit,
                [Description("The nextCursor of the previous page; left out for the first page.")] string? cursor,
                ChangeRequestService service, CancellationToken ct) => (await service.ListAsync(status, limit, cursor, ct)).ToOk())
            .RequireCaller()
            .WithSummary("Change requests, newest first; a caller without APPROVE_CHANGES or MANAGE_GOVERNANCE sees only their own.");
        requests.MapGet("/{id:guid}", async (Guid id, ChangeRequestService service, CancellationToken ct) => (await service.GetAsync(id, ct)).ToOk())
            .RequireCaller()
            .WithSummary("One change request with its preview (the audit events the change writes when it applies).");
        requests.MapPost("/{id:guid}/approve", async (Guid id, ChangeRequestDecision? decision, ChangeRequestService service, CancellationToken ct) =>
                (await service.ApproveAsync(id, decision, ct)).ToOk())
            .RequirePrivilege(Privileges.ApproveChanges)
            .WithSummary("Applies the change as the checker's: 403 self_approval, 409 request_not_pending or request_expired; a delegation refusal "
                + "answers 403 and leaves it pending; any other failure ends it failed (200, with failure.code).");
        requests.MapPost("/{id:guid}/reject", async (Guid id, ChangeRequestDecision? decision, ChangeRequestService service, CancellationToken ct) =>
                (await service.RejectAsync(id, decision, ct)).ToOk())
            .RequirePrivilege(Privileges.ApproveChanges)
            .WithSummary("Rejects the change with an optional comment; nothing applies.");
        requests.MapPost("/{id:guid}/withdraw", async (Guid id, ChangeRequestDecision? decision, ChangeRequestService service, CancellationToken ct) =>
                (await service.WithdrawAsync(id, decision, ct)).ToOk())
            .RequireCaller()
            .WithSummary("The maker takes back a pending request (403 not_maker for anyone else).");
        return app;
    }
}
