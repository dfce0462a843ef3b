using Microsoft.EntityFrameworkCore;
using Tessera.Core.Common;
using Tessera.Core.Customers;
using Tessera.Core.Users;
using Tessera.Server.Audit;
using Tessera.Server.Storage;

namespace Tessera.Server.Customers;

/// <summary>The use cases of storefront customers: create, read, change, delete, and the shop's batch import.</summary>
public sealed class CustomerService(TesseraDbContext db, AuditLog audit, TimeProvider clock)
{
    public const int MaxImportRows = 10_000;

    /// <summary>Existing customers are looked up this many references (or emails) per query.</summary>
    private const int LookupChunk = 1_000;

    public async Task<Outcome<CustomerResponse>> GetAsync(Guid id, CancellationToken ct)
    {
        var customer = await db.Customers.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, ct);
        return customer is null ? NotFound(id) : Outcome<CustomerResponse>.Ok(ToResponse(customer));
    }

    public async Task<Outcome<CustomerResponse>> CreateAsync(CreateCustomerRequest request, CancellationToken ct)
    {
        var errors = Validate(request.Reference, request.Email, request.FirstName, request.LastName, request.Status, creating: true);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        if (await TakenAsync(request.Reference, request.Email, null, ct) is { } taken)
        {
            return taken;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var customer = new Customer { Reference = "", NormalizedReference = "", Email = "", NormalizedEmail = "", CreatedAt = now, UpdatedAt = now };
        Apply(customer, request.Reference, request.Email, request.FirstName ?? "", request.LastName ?? "", CustomerRules.ParseStatus(request.Status) ?? CustomerRules.Active);
        db.Customers.Add(customer);
        audit.Record(db, "customer.created", "customer", customer.Id.ToString(), customer.Reference, new
        {
            customer.Reference, customer.Email, customer.FirstName, customer.LastName, customer.Status,
        });
        return await SaveAsync(ct) ?? Outcome<CustomerResponse>.Ok(ToResponse(customer));
    }

    public async Task<Outcome<CustomerResponse>> UpdateAsync(Guid id, UpdateCustomerRequest request, CancellationToken ct)
    {
        var errors = Validate(request.Reference, request.Email, request.FirstName, request.LastName, request.Status, creating: false);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        var customer = await db.Customers.SingleOrDefaultAsync(c => c.Id == id, ct);
        if (customer is null)
        {
            return NotFound(id);
        }

        if (await TakenAsync(request.Reference, request.Email, id, ct) is { } taken)
        {
            return taken;
        }

        var changes = Apply(customer, request.Reference, request.Email, request.FirstName, request.LastName, CustomerRules.ParseStatus(request.Status));
        if (changes.Count == 0)
        {
            return Outcome<CustomerResponse>.Ok(ToResponse(customer));
        }

        customer.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        audit.Record(db, "customer.updated", "customer", customer.Id.ToString(), customer.Reference, changes);
        return await SaveAsync(ct) ?? Outcome<CustomerResponse>.Ok(ToResponse(customer));
    }

    public async Task<Failure?> DeleteAsync(Guid id, CancellationToken ct)
    {
        var customer = await db.Customers.SingleOrDefaultAsync(c => c.Id == id, ct);
        if (customer is null)
        {
            return NotFound(id).Failure;
        }

        db.Customers.Remove(customer);
        audit.Record(db, "customer.deleted", "customer", customer.Id.ToString(), customer.Reference, new { customer.Reference, customer.Email });
        await db.SaveChangesAsync(ct);
        return null;
    }

    /// <summary>
    /// Upserts a batch by reference, all or nothing: every row is validated first (against the batch
    /// and the stored customers, loaded a chunk of references at a time), and only a batch without a
    /// rejected row is written, in one SaveChanges with its audit event.
    /// </summary>
    public async Task<Outcome<CustomerImportResult>> ImportAsync(ImportCustomersRequest request, CancellationToken ct)
    {
        var rows = request.Customers;
        if (Refuse(rows) is { } refused)
        {
            return refused;
        }

        var (problems, existing) = await PlanAsync(rows!, tracking: true, ct);
        var rejected = problems.GroupBy(p => p.Index).OrderBy(g => g.Key)
            .Select(g => new ImportRejection(g.Key, rows![g.Key]?.Reference, [.. g.Select(p => p.Message)])).ToList();
        if (rejected.Count > 0)
        {
            return new Failure(FailureKind.Invalid, "import_rejected",
                $"{rejected.Count} of {rows!.Count} rows were rejected; nothing was imported. Correct them and send the batch again.")
            {
                Extensions = new Dictionary<string, object?> { ["rejected"] = rejected, ["created"] = 0, ["updated"] = 0 },
            };
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var created = new List<Customer>();
        int updated = 0, unchanged = 0;
        foreach (var row in rows!)
        {
            if (existing.TryGetValue(CustomerRules.NormalizeReference(row!.Reference!), out var customer))
            {
                if (Apply(customer, row.Reference, row.Email, row.FirstName, row.LastName, CustomerRules.ParseStatus(row.Status)).Count > 0)
                {
                    customer.UpdatedAt = now;
                    updated++;
                }
                else
                {
                    unchanged++;
                }

                continue;
            }

            customer = new Customer { Reference = "", NormalizedReference = "", Email = "", NormalizedEmail = "", CreatedAt = now, UpdatedAt = now };
            Apply(customer, row.Reference, row.Email, row.FirstName ?? "", row.LastName ?? "", CustomerRules.ParseStatus(row.Status) ?? CustomerRules.Active);
            created.Add(customer);
        }

        db.Customers.AddRange(created);
        audit.Record(db, "customer.imported", "customer", null, null, new { rows = rows!.Count, created = created.Count, updated, unchanged });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out _))
        {
            return Failure.Conflict("import_conflict", "A concurrent change took a reference or email of this batch; nothing was imported. Send the batch again.");
        }

        return Outcome<CustomerImportResult>.Ok(new CustomerImportResult(created.Count, updated, unchanged, []));
    }

    /// <summary>
    /// What <see cref="ImportAsync"/> would do with the batch, writing nothing: every row's problems by field (the same
    /// checks, against the same stored customers) and the counts it would create, update and leave unchanged.
    /// </summary>
    public async Task<Outcome<CustomerImportPreview>> PreviewImportAsync(IReadOnlyList<CreateCustomerRequest?> rows, CancellationToken ct)
    {
        if (Refuse(rows) is { } refused)
        {
            return refused;
        }

        var (problems, existing) = await PlanAsync(rows, tracking: false, ct);
        int created = 0, updated = 0, unchanged = 0;
        var failing = problems.Select(p => p.Index).ToHashSet();
        for (var i = 0; i < rows.Count; i++)
        {
            if (failing.Contains(i))
            {
                continue;
            }

            var row = rows[i]!;
            if (!existing.TryGetValue(CustomerRules.NormalizeReference(row.Reference!), out var stored))
            {
                created++;
            }
            else if (Apply(Copy(stored), row.Reference, row.Email, row.FirstName, row.LastName, CustomerRules.ParseStatus(row.Status)).Count > 0)
            {
                updated++;
            }
            else
            {
                unchanged++;
            }
        }

        return Outcome<CustomerImportPreview>.Ok(new CustomerImportPreview(rows.Count, created, updated, unchanged, problems));
    }

    private static Failure? Refuse<T>(IReadOnlyList<T>? rows) => rows switch
    {
        null => Invalid(new Dictionary<string, string[]> { ["customers"] = ["customers is required: a list of {reference, email, firstName, lastName, status}."] }),
        { Count: > MaxImportRows } => Failure.Invalid("import_too_large", $"An import takes at most {MaxImportRows} rows; this one has {rows.Count}. Split it into batches."),
        _ => null,
    };

    /// <summary>
    /// Every row's problems by field (the rules of a new customer, duplicates within the batch, an email held by
    /// another stored customer), and the stored customers the batch names by reference.
    /// </summary>
    private async Task<(List<ImportRowProblem> Problems, Dictionary<string, Customer> Existing)> PlanAsync(
        IReadOnlyList<CreateCustomerRequest?> rows, bool tracking, CancellationToken ct)
    {
        var problems = new List<ImportRowProblem>();
        var firstByReference = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstByEmail = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row is null)
            {
                problems.Add(new ImportRowProblem(i, "row", "The row is empty."));
                continue;
            }

            foreach (var (field, messages) in Validate(row.Reference, row.Email, row.FirstName, row.LastName, row.Status, creating: true))
            {
                problems.AddRange(messages.Select(m => new ImportRowProblem(i, field, m)));
            }

            if (CustomerRules.ValidateReference(row.Reference) is null && !firstByReference.TryAdd(CustomerRules.NormalizeReference(row.Reference!), i))
            {
                problems.Add(new ImportRowProblem(i, "reference", $"The reference appears earlier in the batch (row {firstByReference[CustomerRules.NormalizeReference(row.Reference!)]})."));
            }

            if (Usernames.ValidateEmail(row.Email) is null && !firstByEmail.TryAdd(Usernames.Normalize(row.Email!), i))
            {
                problems.Add(new ImportRowProblem(i, "email", $"The email appears earlier in the batch (row {firstByEmail[Usernames.Normalize(row.Email!)]})."));
            }
        }

        var existing = new Dictionary<string, Customer>(StringComparer.Ordinal);
        var customers = tracking ? db.Customers : db.Customers.AsNoTracking();
        foreach (var chunk in firstByReference.Keys.Chunk(LookupChunk))
        {
            foreach (var customer in await customers.Where(c => chunk.Contains(c.NormalizedReference)).ToListAsync(ct))
            {
                existing[customer.NormalizedReference] = customer;
            }
        }

        var emailHolders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in firstByEmail.Keys.Chunk(LookupChunk))
        {
            foreach (var holder in await db.Customers.AsNoTracking().Where(c => chunk.Contains(c.NormalizedEmail))
                .Select(c => new { c.NormalizedEmail, c.NormalizedReference }).ToListAsync(ct))
            {
                emailHolders[holder.NormalizedEmail] = holder.NormalizedReference;
            }
        }

        foreach (var (email, index) in firstByEmail)
        {
            var reference = CustomerRules.ValidateReference(rows[index]!.Reference) is null ? CustomerRules.NormalizeReference(rows[index]!.Reference!) : null;
            if (emailHolders.TryGetValue(email, out var holder) && holder != reference)
            {
                problems.Add(new ImportRowProblem(index, "email", "Another customer has this email address."));
            }
        }

        return ([.. problems.OrderBy(p => p.Index)], existing);
    }

    private static Customer Copy(Customer c) => new()
    {
        Id = c.Id, Reference = c.Reference, NormalizedReference = c.NormalizedReference, Email = c.Email, NormalizedEmail = c.NormalizedEmail,
        FirstName = c.FirstName, LastName = c.LastName, Status = c.Status, CreatedAt = c.CreatedAt, UpdatedAt = c.UpdatedAt,
    };

    public static CustomerResponse ToResponse(Customer c) => new(c.Id, c.Reference, c.Email, c.FirstName, c.LastName, c.Status, c.CreatedAt, c.UpdatedAt);

    /// <summary>Sets the given fields (null leaves one as it is) and the derived columns; returns what changed.</summary>
    private static Dictionary<string, object?> Apply(Customer customer, string? reference, string? email, string? firstName, string? lastName, string? status)
    {
        var changes = new Dictionary<string, object?>();
        void Set(string field, string current, string? wanted, Action<string> assign)
        {
            if (wanted is not null && wanted != current)
            {
                changes[field] = new { from = current, to = wanted };
                assign(wanted);
            }
        }

        Set("reference", customer.Reference, reference?.Trim(), v => customer.Reference = v);
        Set("email", customer.Email, email?.Trim(), v => customer.Email = v);
        Set("firstName", customer.FirstName, firstName?.Trim(), v => customer.FirstName = v);
        Set("lastName", customer.LastName, lastName?.Trim(), v => customer.LastName = v);
        Set("status", customer.Status, status, v => customer.Status = v);
        customer.NormalizedReference = CustomerRules.NormalizeReference(customer.Reference);
        customer.NormalizedEmail = Usernames.Normalize(customer.Email);
        customer.SearchText = $"{customer.NormalizedReference} {customer.FirstName.ToUpperInvariant()} {customer.LastName.ToUpperInvariant()} {customer.NormalizedEmail}";
        return changes;
    }

    private static Dictionary<string, string[]> Validate(string? reference, string? email, string? firstName, string? lastName, string? status, bool creating)
    {
        var errors = new Dictionary<string, string[]>();
        if ((creating || reference is not null) && CustomerRules.ValidateReference(reference) is { } referenceError)
        {
            errors["reference"] = [referenceError];
        }

        if ((creating || email is not null) && Usernames.ValidateEmail(email) is { } emailError)
        {
            errors["email"] = [emailError];
        }

        if (CustomerRules.ValidateName("First name", firstName) is { } firstError)
        {
            errors["firstName"] = [firstError];
        }

        if (CustomerRules.ValidateName("Last name", lastName) is { } lastError)
        {
            errors["lastName"] = [lastError];
        }

        if (status is not null && CustomerRules.ParseStatus(status) is null)
        {
            errors["status"] = ["Status must be 'active' or 'disabled'."];
        }

        return errors;
    }

    private async Task<Failure?> TakenAsync(string? reference, string? email, Guid? except, CancellationToken ct)
    {
        if (reference is not null)
        {
            var normalized = CustomerRules.NormalizeReference(reference);
            if (await db.Customers.AnyAsync(c => c.NormalizedReference == normalized && c.Id != except, ct))
            {
                return Failure.Conflict("reference_taken", $"Another customer has the reference '{reference.Trim()}'.");
            }
        }

        if (email is not null)
        {
            var normalized = Usernames.Normalize(email);
            if (await db.Customers.AnyAsync(c => c.NormalizedEmail == normalized && c.Id != except, ct))
            {
                return Failure.Conflict("email_taken", "Another customer has this email address.");
            }
        }

        return null;
    }

    private async Task<Failure?> SaveAsync(CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return null;
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation(out var constraint))
        {
            return constraint?.Contains("Email", StringComparison.OrdinalIgnoreCase) == true
                ? Failure.Conflict("email_taken", "Another customer has this email address.")
                : Failure.Conflict("reference_taken", "Another customer has this reference.");
        }
    }

    private static Failure Invalid(Dictionary<string, string[]> errors)
        => Failure.Invalid("validation_failed", string.Join(" ", errors.Values.SelectMany(v => v)), errors);

    private static Outcome<CustomerResponse> NotFound(Guid id) => Failure.NotFound($"No customer has the id {id}.");
}
