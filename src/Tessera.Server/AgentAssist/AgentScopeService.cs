using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Users;
using Tessera.Core.Access;
using Tessera.Server.Changes;
using Tessera.Server.Customers;
using Tessera.Server.Storage;
using Tessera.Server.Users;

namespace Tessera.Server.AgentAssist;

/// <summary>Which customers an agent may assist: the administrator's assignment, and the agent's own search within it.</summary>
public sealed class AgentScopeService(TesseraDbContext db, DirectoryPipeline pipeline)
{
    public async Task<Outcome<AgentCustomersResponse>> GetAsync(Guid userId, CancellationToken ct)
    {
        if (!await db.Users.AnyAsync(u => u.Id == userId, ct))
        {
            return Failure.NotFound($"No user has the id {userId}.");
        }

        return Outcome<AgentCustomersResponse>.Ok(await LoadAsync(userId, ct));
    }

    public async Task<Outcome<AgentCustomersResponse>> ChangeAsync(Guid userId, ChangeAgentCustomersRequest request, CancellationToken ct)
    {
        var scope = request.Scope?.Trim().ToLowerInvariant();
        if (scope is not (AgentAssistNames.ScopeAll or AgentAssistNames.ScopeAssigned))
        {
            return Invalid("scope", "scope must be 'all' or 'assigned'.");
        }

        var wanted = (request.CustomerIds ?? []).Distinct().ToList();
        return await pipeline.RunAsync(new SetAgentScope(pipeline.ActorId(), userId, request), async change =>
        {
            var found = await UserService.AccountAsync(change, userId, AccountAction.Change, ct);
            if (!found.Succeeded)
            {
                return found.Failure;
            }

            var user = found.Value!;

            if (user.Type != UserType.BackOffice)
            {
                return Failure.Conflict("not_a_backoffice_user", $"{user.Username} is an API user; only BackOffice users can be agents.");
            }

            var known = new HashSet<Guid>();
            foreach (var chunk in wanted.Chunk(1_000))
            {
                known.UnionWith(await db.Customers.Where(c => chunk.Contains(c.Id)).Select(c => c.Id).ToListAsync(ct));
            }

            if (wanted.FirstOrDefault(id => !known.Contains(id)) is var unknown && unknown != Guid.Empty)
            {
                return Invalid("customerIds", $"No customer has the id {unknown}.");
            }

            var before = await LoadAsync(userId, ct);
            var stored = await db.AgentScopes.SingleOrDefaultAsync(s => s.UserId == userId, ct);
            if (stored is null)
            {
                db.AgentScopes.Add(new AgentScope { UserId = userId, Scope = scope });
            }
            else
            {
                stored.Scope = scope;
            }

            var current = await db.AgentCustomers.Where(a => a.UserId == userId).ToListAsync(ct);
            var removed = current.Where(a => !known.Contains(a.CustomerId)).ToList();
            var added = wanted.Where(id => current.All(a => a.CustomerId != id)).ToList();
            db.AgentCustomers.RemoveRange(removed);
            db.AgentCustomers.AddRange(added.Select(id => new AgentCustomer { UserId = userId, CustomerId = id }));
            if (before.Scope == scope && removed.Count == 0 && added.Count == 0 && stored is not null)
            {
                change.NothingChanged();
                return null;
            }

            change.Audit(new
            {
                scope = new { from = before.Scope, to = scope },
                added,
                removed = removed.Select(a => a.CustomerId),
            });
            return null;
        }, ct => LoadAsync(userId, ct), ct);
    }

    /// <summary>The agent's search: the customers in their scope only. Anyone but a BackOffice user is refused.</summary>
    public async Task<Outcome<CustomerPage>> SearchAsync(Guid agentId, CustomerQuery query, CancellationToken ct)
    {
        var agent = await db.Users.AsNoTracking().Where(u => u.Id == agentId).Select(u => new { u.Type }).SingleOrDefaultAsync(ct);
        if (agent is null || agent.Type != UserType.BackOffice)
        {
            return Failure.Forbidden("not_an_agent", "Only BackOffice users holding AGENT_ASSIST assist customers.");
        }

        return await CustomerSearch.SearchAsync(InScope(db, agentId), query, ct);
    }

    /// <summary>
    /// The BackOffice users whose agent scope holds the customer: those scoped to all customers and those it is
    /// assigned to, by username. Whether each holds AGENT_ASSIST now is their roles' matter, shown on their user page.
    /// </summary>
    public async Task<Outcome<CustomerAgents>> AgentsOfAsync(Guid customerId, CancellationToken ct)
    {
        if (!await db.Customers.AnyAsync(c => c.Id == customerId, ct))
        {
            return Failure.NotFound($"No customer has the id {customerId}.");
        }

        var all = db.AgentScopes.Where(s => s.Scope == AgentAssistNames.ScopeAll).Select(s => s.UserId);
        var assigned = db.AgentCustomers.Where(a => a.CustomerId == customerId).Select(a => a.UserId);
        var agents = await db.Users.AsNoTracking()
            .Where(u => u.Type == UserType.BackOffice && (all.Contains(u.Id) || assigned.Contains(u.Id)))
            .OrderBy(u => u.NormalizedUsername)
            .Select(u => new CustomerAgent(u.Id, u.Username, all.Contains(u.Id) ? AgentAssistNames.ScopeAll : AgentAssistNames.ScopeAssigned))
            .ToListAsync(ct);
        return Outcome<CustomerAgents>.Ok(new CustomerAgents(agents));
    }

    /// <summary>How many agents hold each of the customers (those scoped to all count for every one): two queries for a page.</summary>
    public async Task<IReadOnlyDictionary<Guid, int>> AgentCountsAsync(IReadOnlyCollection<Guid> customerIds, CancellationToken ct)
    {
        var all = db.AgentScopes.Where(s => s.Scope == AgentAssistNames.ScopeAll).Select(s => s.UserId);
        var everywhere = await db.Users.CountAsync(u => u.Type == UserType.BackOffice && all.Contains(u.Id), ct);
        var assigned = await db.AgentCustomers.Where(a => customerIds.Contains(a.CustomerId) && !all.Contains(a.UserId)
                && db.Users.Any(u => u.Id == a.UserId && u.Type == UserType.BackOffice))
            .GroupBy(a => a.CustomerId).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        return customerIds.ToDictionary(id => id, id => everywhere + (assigned.FirstOrDefault(a => a.Key == id)?.Count ?? 0));
    }

    /// <summary>True when the agent may assist no customer at all: scoped to assigned customers, none assigned.</summary>
    public async Task<bool> ScopeIsEmptyAsync(Guid agentId, CancellationToken ct)
        => !await db.AgentScopes.AnyAsync(s => s.UserId == agentId && s.Scope == AgentAssistNames.ScopeAll, ct)
            && !await db.AgentCustomers.AnyAsync(a => a.UserId == agentId, ct);

    /// <summary>The customers an agent may assist, as a query: all of them, or those assigned (no scope yet: none).</summary>
    public static IQueryable<Customer> InScope(TesseraDbContext db, Guid agentId)
    {
        return db.Customers.AsNoTracking().Where(c => db.AgentScopes.Any(s => s.UserId == agentId && s.Scope == AgentAssistNames.ScopeAll)
            || db.AgentCustomers.Any(a => a.UserId == agentId && a.CustomerId == c.Id));
    }

    private async Task<AgentCustomersResponse> LoadAsync(Guid userId, CancellationToken ct)
    {
        var scope = await db.AgentScopes.AsNoTracking().Where(s => s.UserId == userId).Select(s => s.Scope).SingleOrDefaultAsync(ct) ?? AgentAssistNames.ScopeAssigned;
        var ids = await db.AgentCustomers.AsNoTracking().Where(a => a.UserId == userId).Select(a => a.CustomerId).ToListAsync(ct);
        return new AgentCustomersResponse(userId, scope, [.. ids.Order()]);
    }

    private static Failure Invalid(string field, string message)
        => Failure.Invalid("validation_failed", message, new Dictionary<string, string[]> { [field] = [message] });
}
