using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Localization;
using Tessera.Core.Access;
using Tessera.Server.AgentAssist;
using Tessera.Server.BackOffice.Localization;
using Tessera.Server.Customers;

namespace Tessera.Server.BackOffice.Pages.Admin.Customers;

/// <summary>
/// Storefront customers: the customer search, a form to add one, and a CSV import in three steps: the file's preview
/// (every line's problems and what would change, nothing written), the write in chunks from the page script
/// (customers-import.js, each chunk through the import use case), and its summary.
/// </summary>
[RequiresPrivilege(Privileges.ManageCustomers)]
[RequestSizeLimit(CustomerCsvImport.MaxFileBytes + 64 * 1024)]
[RequestFormLimits(MultipartBodyLengthLimit = CustomerCsvImport.MaxFileBytes + 64 * 1024)]
public sealed class IndexModel(CustomerSearch search, CustomerService customers, CustomerCsvImport csv, AgentScopeService scopes, IStringLocalizer<SharedText> Text) : PageModel
{
    /// <summary>Rows per request of the import script.</summary>
    public const int ChunkSize = 500;

    /// <summary>The most line problems the preview lists; the count says how many there are in all.</summary>
    public const int ShownProblems = 500;

    [BindProperty(SupportsGet = true)] public string? Q { get; set; }
    [BindProperty(SupportsGet = true)] public string? Status { get; set; }
    [BindProperty(SupportsGet = true)] public string? Cursor { get; set; }

    [BindProperty] public string? Reference { get; set; }
    [BindProperty] public string? Email { get; set; }
    [BindProperty] public string? FirstName { get; set; }
    [BindProperty] public string? LastName { get; set; }

    public IReadOnlyList<CustomerResponse> Customers { get; private set; } = [];

    public string? NextCursor { get; private set; }

    /// <summary>Agents per listed customer; null when the signed-in user may not see users (VIEW_USERS).</summary>
    public IReadOnlyDictionary<Guid, int>? AgentCounts { get; private set; }

    public CsvImportPreview? Preview { get; private set; }

    public string? FileName { get; private set; }

    /// <summary>The rows of an importable preview as JSON, for the page script to send in chunks.</summary>
    public string RowsJson => JsonSerializer.Serialize(Preview?.Rows ?? [], JsonSerializerOptions.Web);

    /// <summary>The create form failed: it opens again with its errors.</summary>
    public bool CreateFailed { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        await ListAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostCreateAsync()
    {
        var outcome = await customers.CreateAsync(new CreateCustomerRequest(Reference, Email, FirstName, LastName, null), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            outcome.Failure!.AddTo(ModelState);
            Response.StatusCode = outcome.Failure!.FormStatus();
            CreateFailed = true;
            await ListAsync();
            return Page();
        }

        TempData["Notice"] = Text["Customer {0} was created.", outcome.Value!.Reference].Value;
        return Redirect($"/admin/customers/{outcome.Value.Id}");
    }

    /// <summary>Step one: read the file and show what importing it would do. Nothing is written.</summary>
    public async Task<IActionResult> OnPostPreviewAsync(IFormFile? file)
    {
        await ListAsync();
        if (file is null || file.Length == 0)
        {
            ModelState.AddModelError("file", Text["Choose a CSV file to import."]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        if (file.Length > CustomerCsvImport.MaxFileBytes)
        {
            ModelState.AddModelError("file", Text["The file is larger than {0} MB.", CustomerCsvImport.MaxFileBytes / (1024 * 1024)]);
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        using var buffer = new MemoryStream((int)file.Length);
        await file.CopyToAsync(buffer, HttpContext.RequestAborted);
        FileName = Path.GetFileName(file.FileName);
        Preview = await csv.PreviewAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), HttpContext.RequestAborted);
        if (!Preview.Importable)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        return Page();
    }

    /// <summary>
    /// Step two, called by the page script with the antiforgery header: one chunk of the previewed rows through the
    /// import use case, which checks every row again (the rows come back from the browser and are not trusted).
    /// </summary>
    public async Task<IActionResult> OnPostImportChunkAsync([FromBody] ImportCustomersRequest? request)
    {
        if (request?.Customers is { Count: > ChunkSize })
        {
            return new JsonResult(new { code = "chunk_too_large", detail = $"A chunk holds at most {ChunkSize} rows." }) { StatusCode = StatusCodes.Status400BadRequest };
        }

        var outcome = await customers.ImportAsync(request ?? new ImportCustomersRequest(null), HttpContext.RequestAborted);
        if (!outcome.Succeeded)
        {
            var failure = outcome.Failure!;
            return new JsonResult(new { code = failure.Code, detail = failure.Detail, rejected = failure.Extensions?.GetValueOrDefault("rejected") })
            {
                StatusCode = failure.FormStatus(),
            };
        }

        return new JsonResult(outcome.Value);
    }

    public string Link(string? cursor)
    {
        var query = new Dictionary<string, string?> { ["q"] = Blank(Q), ["status"] = Blank(Status), ["cursor"] = cursor };
        return QueryHelpers.AddQueryString("/admin/customers", query.Where(p => p.Value is not null));
    }

    private async Task ListAsync()
    {
        var ct = HttpContext.RequestAborted;
        var status = Blank(Status) is { } s && Core.Customers.CustomerRules.ParseStatus(s) is { } parsed ? parsed : null;
        Status = status;
        var page = await search.SearchAsync(new CustomerQuery(Blank(Q), status, Cursor: Blank(Cursor)), ct);
        if (!page.Succeeded)
        {
            // A stale cursor: the first page instead.
            Cursor = null;
            page = await search.SearchAsync(new CustomerQuery(Blank(Q), status), ct);
        }

        Customers = page.Value?.Items ?? [];
        NextCursor = page.Value?.NextCursor;
        if (await HttpContext.HoldsAsync(Privileges.ViewUsers))
        {
            AgentCounts = await scopes.AgentCountsAsync([.. Customers.Select(c => c.Id)], ct);
        }
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
