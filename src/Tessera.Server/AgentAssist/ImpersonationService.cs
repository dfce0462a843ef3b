using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using Tessera.Core.Access;
using Tessera.Core.Common;
using Tessera.Core.Customers;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.SignIn;
using Tessera.Server.Storage;

namespace Tessera.Server.AgentAssist;

/// <summary>
/// An agent starts acting on a customer's behalf: the rules (a BackOffice user holding AGENT_ASSIST,
/// the customer active and in their scope, a reason given), the storefront token signed with the
/// authorization server's own key, the session row and the audit event, in one transaction.
/// The Back Office UI calls it with the signed-in agent; the token endpoint with the actor token's user.
/// </summary>
public sealed class ImpersonationService(
    TesseraDbContext db,
    AuditLog audit,
    IOptionsMonitor<OpenIddictServerOptions> server,
    IOptions<AgentAssistOptions> options,
    TimeProvider clock)
{
    public const int MaxReasonLength = 500;

    public async Task<Outcome<ImpersonationToken>> StartAsync(Guid agentId, string? customerReference, string? reason, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var agent = await CallerDirectory.LoadAsync(db, agentId, now, ct);
        var actor = audit.CurrentActor() with { Id = agentId, Name = agent?.Username ?? agentId.ToString() };
        reason = reason?.Trim();

        Failure? refusal = null;
        Customer? customer = null;
        if (agent is null || !agent.MayAct(now))
        {
            refusal = Failure.Forbidden("not_an_agent", "The agent is unknown or may not act.");
        }
        else if (agent.Type != UserType.BackOffice)
        {
            refusal = Failure.Forbidden("not_an_agent", "API users cannot act on a customer's behalf; agents are BackOffice users.");
        }
        else if (!agent.Privileges.Contains(Privileges.AgentAssist))
        {
            refusal = Failure.Forbidden("not_an_agent", "Acting on a customer's behalf needs the AGENT_ASSIST privilege.");
        }
        else if (string.IsNullOrEmpty(reason) || reason.Length > MaxReasonLength)
        {
            refusal = Failure.Forbidden("reason_required", $"A reason (1 to {MaxReasonLength} characters) is required to act on a customer's behalf.");
        }
        else
        {
            var normalized = CustomerRules.ValidateReference(customerReference) is null ? CustomerRules.NormalizeReference(customerReference!) : "";
            customer = await AgentScopeService.InScope(db, agentId).SingleOrDefaultAsync(c => c.NormalizedReference == normalized, ct);
            if (customer is null)
            {
                // Unknown and out-of-scope customers answer alike, so the refusal reveals nothing about other customers.
                refusal = Failure.Forbidden("customer_not_in_scope", "No customer with this reference is in the agent's scope.");
            }
            else if (customer.Status != CustomerRules.Active)
            {
                refusal = Failure.Forbidden("customer_disabled", "The customer is disabled.");
            }
        }

        if (refusal is not null)
        {
            audit.Record(db, "agent.impersonation_refused", "customer", customer?.Id.ToString(), customerReference?.Trim(),
                new { code = refusal.Code, agentId, agentUsername = agent?.Username, reason }, outcome: "failure", actor: actor);
            await db.SaveChangesAsync(ct);
            return refusal;
        }

        var settings = options.Value;
        var expires = now.AddMinutes(settings.TokenMinutes);
        var tokenId = Guid.NewGuid().ToString();
        var serverOptions = server.CurrentValue;
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = serverOptions.Issuer?.AbsoluteUri,
            Audience = settings.Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = expires,
            TokenType = "at+jwt",
            SigningCredentials = serverOptions.SigningCredentials.First(),
            Claims = new Dictionary<string, object>
            {
                ["sub"] = customer!.Id.ToString(),
                ["jti"] = tokenId,
                ["client_id"] = AgentAssistNames.ClientId,
                [AgentAssistNames.CustomerReferenceClaim] = customer.Reference,
                ["act"] = new Dictionary<string, object> { ["sub"] = agent!.Id.ToString(), ["preferred_username"] = agent.Username },
            },
        });

        var session = new AgentSession
        {
            AgentId = agent.Id, AgentUsername = agent.Username, CustomerId = customer.Id, CustomerReference = customer.Reference,
            Reason = reason!, StartedAt = now, ExpiresAt = expires, TokenId = tokenId,
        };
        db.AgentSessions.Add(session);
        audit.Record(db, "agent.impersonation_started", "customer", customer.Id.ToString(), customer.Reference, new
        {
            agentId = agent.Id, agentUsername = agent.Username, customerId = customer.Id, customerReference = customer.Reference,
            reason, sessionId = session.Id, tokenId, expiresAt = expires,
        }, actor: actor);
        await db.SaveChangesAsync(ct);
        return Outcome<ImpersonationToken>.Ok(new ImpersonationToken(token, expires, (int)(expires - now).TotalSeconds, session.Id, customer.Id, customer.Reference));
    }

    /// <summary>Impersonation starts, newest first, paged by keyset on (started at, id).</summary>
    public async Task<Outcome<AgentSessionPage>> ListAsync(AgentSessionQuery query, CancellationToken ct)
    {
        var limit = query.Limit ?? 50;
        if (limit is < 1 or > 200)
        {
            return Failure.Invalid("validation_failed", "limit must be between 1 and 200.", new Dictionary<string, string[]> { ["limit"] = ["limit must be between 1 and 200."] });
        }

        (DateTime At, Guid Id)? after = null;
        if (query.Cursor is not null)
        {
            if (!TryDecode(query.Cursor, out var decoded))
            {
                return Http.Paging.Refuse(new Dictionary<string, string[]> { ["cursor"] = [Http.Paging.CursorMessage] });
            }

            after = decoded;
        }

        var sessions = db.AgentSessions.AsNoTracking();
        if (query.AgentId is { } agentId)
        {
            sessions = sessions.Where(s => s.AgentId == agentId);
        }

        if (query.CustomerId is { } customerId)
        {
            sessions = sessions.Where(s => s.CustomerId == customerId);
        }

        if (after is { } position)
        {
            sessions = sessions.Where(s => s.StartedAt < position.At || (s.StartedAt == position.At && s.Id.CompareTo(position.Id) < 0));
        }

        var page = await sessions.OrderByDescending(s => s.StartedAt).ThenByDescending(s => s.Id).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            var last = page[^1];
            next = WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes($"{last.StartedAt.Ticks.ToString(CultureInfo.InvariantCulture)}:{last.Id}"));
        }

        return Outcome<AgentSessionPage>.Ok(new AgentSessionPage([.. page.Select(s => new AgentSessionResponse(
            s.Id, s.AgentId, s.AgentUsername, s.CustomerId, s.CustomerReference, s.Reason, s.StartedAt, s.ExpiresAt, s.TokenId))], next));
    }

    private static bool TryDecode(string cursor, out (DateTime At, Guid Id) position)
    {
        position = default;
        try
        {
            var parts = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(cursor)).Split(':');
            if (parts.Length == 2 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var ticks) && ticks >= 0 && ticks <= DateTime.MaxValue.Ticks
                && Guid.TryParse(parts[1], out var id))
            {
                position = (new DateTime(ticks, DateTimeKind.Utc), id);
                return true;
            }
        }
        catch (FormatException)
        {
        }

        return false;
    }
}
