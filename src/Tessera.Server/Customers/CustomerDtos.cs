using System.ComponentModel.DataAnnotations;
using System.ComponentModel;

namespace Tessera.Server.Customers;

/// <summary>A storefront customer as the API shows it.</summary>
public sealed record CustomerResponse(
    Guid Id,
    string Reference,
    string Email,
    string FirstName,
    string LastName,
    string Status,
    DateTime CreatedAt,
    DateTime UpdatedAt);

/// <summary>POST /api/v1/customers. Status defaults to active.</summary>
public sealed record CreateCustomerRequest([Required] string? Reference, string? Email, string? FirstName, string? LastName, string? Status);

/// <summary>PATCH /api/v1/customers/{id}: members left out (null) stay as they are.</summary>
public sealed record UpdateCustomerRequest(string? Reference, string? Email, string? FirstName, string? LastName, string? Status);

/// <summary>The filters and page of a customer list: `q` is a substring of reference, names or email.</summary>
public sealed record CustomerQuery(
    [property: Description("Customers whose reference, names or email contain this text, ignoring case.")] string? Q = null,
    [property: Description("active or disabled.")] string? Status = null,
    [property: Description("Customers per page; the default and the most are those of the customer search.")] int? Limit = null,
    [property: Description("The nextCursor of the previous page; left out for the first page.")] string? Cursor = null);

/// <summary>One page of customers and the cursor of the next, or null at the end.</summary>
public sealed record CustomerPage(IReadOnlyList<CustomerResponse> Items, string? NextCursor);

/// <summary>
/// POST /api/v1/customers/import: rows upserted by reference, all or nothing. A new customer's
/// status defaults to active; for an existing one, members left out (null) stay as they are.
/// </summary>
public sealed record ImportCustomersRequest(List<CreateCustomerRequest?>? Customers);

/// <summary>A row the import refused: its position in the batch, its reference and every reason.</summary>
public sealed record ImportRejection(int Index, string? Reference, IReadOnlyList<string> Reasons);

/// <summary>What an import did: counts of created and updated rows (rejected is empty on success).</summary>
public sealed record CustomerImportResult(int Created, int Updated, int Unchanged, IReadOnlyList<ImportRejection> Rejected);

/// <summary>A problem of one row of an import: its position in the batch, the field it concerns ("row" for the whole row) and why.</summary>
public sealed record ImportRowProblem(int Index, string Field, string Message);

/// <summary>What an import would do, written nowhere: the rows it would create, update and leave unchanged, and every row's problems.</summary>
public sealed record CustomerImportPreview(int Rows, int Created, int Updated, int Unchanged, IReadOnlyList<ImportRowProblem> Problems);

/// <summary>An agent who may assist a customer: through the scope "all", or the customer assigned to them.</summary>
public sealed record CustomerAgent(Guid UserId, string Username, string Via);

/// <summary>GET /api/v1/customers/{id}/agents: the BackOffice users whose agent scope holds the customer, by username.</summary>
public sealed record CustomerAgents(IReadOnlyList<CustomerAgent> Items);
