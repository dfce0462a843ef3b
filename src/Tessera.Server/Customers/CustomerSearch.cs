using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Customers;
using Tessera.Server.Storage;

namespace Tessera.Server.Customers;

/// <summary>
/// Customer lists: `q` as a substring of the upper-cased search column (a trigram index on
/// PostgreSQL), keyset paging on the unique normalized reference so deep pages cost what the
/// first does. The agents' search reuses it over the customers in their scope.
/// </summary>
public sealed class CustomerSearch(TesseraDbContext db)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public Task<Outcome<CustomerPage>> SearchAsync(CustomerQuery query, CancellationToken ct) => SearchAsync(db.Customers.AsNoTracking(), query, ct);

    public static async Task<Outcome<CustomerPage>> SearchAsync(IQueryable<Customer> customers, CustomerQuery query, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var limit = query.Limit ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}."];
        }

        var status = query.Status is null ? null : CustomerRules.ParseStatus(query.Status);
        if (query.Status is not null && status is null)
        {
            errors["status"] = ["status must be 'active' or 'disabled'."];
        }

        string? after = null;
        if (query.Cursor is not null && !TryDecode(query.Cursor, out after))
        {
            errors["cursor"] = [Http.Paging.CursorMessage];
        }

        if (errors.Count > 0)
        {
            return Http.Paging.Refuse(errors);
        }

        if (!string.IsNullOrWhiteSpace(query.Q))
        {
            var term = query.Q.Trim().ToUpperInvariant();
            customers = customers.Where(c => c.SearchText.Contains(term));
        }

        if (status is not null)
        {
            customers = customers.Where(c => c.Status == status);
        }

        if (after is not null)
        {
            customers = customers.Where(c => string.Compare(c.NormalizedReference, after) > 0);
        }

        var page = await customers.OrderBy(c => c.NormalizedReference).Take(limit + 1).ToListAsync(ct);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(limit);
            next = WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(page[^1].NormalizedReference));
        }

        return Outcome<CustomerPage>.Ok(new CustomerPage([.. page.Select(CustomerService.ToResponse)], next));
    }

    private static bool TryDecode(string cursor, out string? after)
    {
        after = null;
        try
        {
            var value = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(cursor));
            if (CustomerRules.ValidateReference(value) is null)
            {
                after = value;
                return true;
            }
        }
        catch (FormatException)
        {
        }

        return false;
    }
}
