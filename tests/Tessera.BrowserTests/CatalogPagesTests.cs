using System.Net.Http.Json;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The customers, resource catalog and role pages in a real browser, as an administrator uses them.</summary>
public sealed class CatalogPagesTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private TesseraApp App => host.App;

    private async Task<IPage> AdminAsync(int width = 1280)
    {
        var page = await host.NewPageAsync(width);
        await SignInAsync(page, TesseraApp.AdminUsername, TesseraApp.AdminPassword);
        return page;
    }

    [Fact]
    public async Task Customers_are_searched_added_changed_disabled_and_show_the_agents_who_hold_them()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var page = await AdminAsync();
        await page.GotoAsync("/admin/customers");

        // Add: a wrong email stays on the form with its error; a right one opens the customer.
        await page.FillAsync("#reference", $"CU-{suffix}");
        await page.FillAsync("#email", "not-an-email");
        await page.ClickAsync("#create");
        await Expect(page.Locator("#email-error")).Not.ToBeEmptyAsync();
        await page.FillAsync("#email", $"cu-{suffix.ToLowerInvariant()}@shop.test");
        await page.FillAsync("#first-name", "Clara");
        await page.FillAsync("#last-name", "Schmidt");
        await page.ClickAsync("#create");
        await Expect(page.Locator("#notice")).ToContainTextAsync($"CU-{suffix}");
        await Expect(page.Locator("h1")).ToHaveTextAsync($"Customer CU-{suffix}");

        // Change the last name; then disable, and the list shows it as disabled.
        await page.FillAsync("#last-name", "Schmidt-Meyer");
        await page.ClickAsync("#save-customer");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was saved");
        await Expect(page.Locator("#last-name")).ToHaveValueAsync("Schmidt-Meyer");
        await page.ClickAsync("#disable-customer");
        await Expect(page.Locator("#status-value")).ToHaveAttributeAsync("data-status", "disabled");
        await Expect(page.Locator("#enable-customer")).ToBeVisibleAsync();

        await page.GotoAsync("/admin/customers");
        await page.FillAsync("#q", $"meyer");
        await page.ClickAsync("#search");
        var row = page.Locator($"#customers tr[data-reference='CU-{suffix}']");
        await Expect(row).ToContainTextAsync("Schmidt-Meyer");
        await Expect(row).ToContainTextAsync("disabled");
        await page.SelectOptionAsync("#status", "active");
        await page.ClickAsync("#search");
        await Expect(row).ToHaveCountAsync(0);

        // The agents who hold the customer: one scoped to all customers, one assigned it; one with an empty scope does not.
        Guid customerId;
        await using (var scope = App.Scope(out var db))
        {
            customerId = (await db.Customers.SingleAsync(c => c.NormalizedReference == $"CU-{suffix}")).Id;
        }

        var everywhere = await Seed.UserAsync(App, UserType.BackOffice, null);
        var assigned = await Seed.UserAsync(App, UserType.BackOffice, null);
        var elsewhere = await Seed.UserAsync(App, UserType.BackOffice, null);
        using (var api = await Seed.AdminApiAsync(App))
        {
            Assert.True((await api.PutAsJsonAsync($"/api/v1/users/{everywhere.Id}/customers", new { scope = "all" })).IsSuccessStatusCode);
            Assert.True((await api.PutAsJsonAsync($"/api/v1/users/{assigned.Id}/customers", new { scope = "assigned", customerIds = new[] { customerId } })).IsSuccessStatusCode);
            Assert.True((await api.PutAsJsonAsync($"/api/v1/users/{elsewhere.Id}/customers", new { scope = "assigned", customerIds = Array.Empty<Guid>() })).IsSuccessStatusCode);
        }

        await page.GotoAsync($"/admin/customers/{customerId}");
        await Expect(page.Locator($"#customer-agents li[data-agent='{everywhere.Username}']")).ToContainTextAsync("all customers");
        await Expect(page.Locator($"#customer-agents li[data-agent='{assigned.Username}']")).ToContainTextAsync("assigned");
        await Expect(page.Locator($"#customer-agents li[data-agent='{elsewhere.Username}']")).ToHaveCountAsync(0);
        var listed = await page.Locator("#customer-agents li").CountAsync();

        await page.GotoAsync($"/admin/customers?q=CU-{suffix}");
        await Expect(page.Locator($"#customers tr[data-reference='CU-{suffix}'] td.agents")).ToHaveTextAsync(listed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Screenshot(page, "customers");
    }

    [Fact]
    public async Task A_csv_file_is_previewed_with_every_line_error_writing_nothing_then_imported_in_chunks_to_the_end()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var page = await AdminAsync();
        await page.GotoAsync("/admin/customers");

        // 1,200 rows (three chunks), two of them wrong: the preview names both by line and field, and writes nothing.
        var rows = Enumerable.Range(0, 1200).Select(i => $"IM-{suffix}-{i:D4},im-{suffix.ToLowerInvariant()}-{i}@shop.test,Ina,\"Import, {i}\"").ToList();
        var broken = new List<string>(rows) { [7] = $"IM {suffix} 7,im-{suffix.ToLowerInvariant()}-7@shop.test,Ina,X", [11] = $"IM-{suffix}-0011,not-an-email,Ina,X" };
        await UploadAsync(page, "reference,email,firstName,lastName\n" + string.Join("\n", broken));
        await Expect(page.Locator("#import-errors tr[data-line='9'][data-field='reference']")).ToBeVisibleAsync();
        await Expect(page.Locator("#import-errors tr[data-line='13'][data-field='email']")).ToBeVisibleAsync();
        await Expect(page.Locator("#count-errors")).ToHaveTextAsync("2");
        await Expect(page.Locator("#count-created")).ToHaveTextAsync("1198");
        await Expect(page.Locator("#confirm-import")).ToHaveCountAsync(0);
        await Screenshot(page, "customers-import");
        Assert.Equal(0, await CountAsync(suffix));

        // The fixed file: no errors, and Confirm writes it in chunks until the bar is full.
        await UploadAsync(page, "reference,email,firstName,lastName\n" + string.Join("\n", rows));
        await Expect(page.Locator("#count-errors")).ToHaveTextAsync("0");
        await Expect(page.Locator("#count-created")).ToHaveTextAsync("1200");
        Assert.Equal(0, await CountAsync(suffix));
        await page.ClickAsync("#confirm-import");
        await Expect(page.Locator("#import-summary")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(page.Locator("#import-status")).ToHaveTextAsync("1,200 of 1,200 written");
        Assert.Equal(1200, await page.Locator("#import-progress").EvaluateAsync<double>("p => p.value"));
        Assert.Equal(1200, await page.Locator("#import-progress").EvaluateAsync<double>("p => p.max"));
        await Expect(page.Locator("#summary-created")).ToHaveTextAsync("1,200");
        Assert.Equal(1200, await CountAsync(suffix));
        await using (var scope = App.Scope(out var db))
        {
            Assert.Equal("Import, 42", (await db.Customers.SingleAsync(c => c.NormalizedReference == $"IM-{suffix}-0042")).LastName);
        }

        // The same file again: everything unchanged.
        await UploadAsync(page, "reference,email,firstName,lastName\n" + string.Join("\n", rows));
        await Expect(page.Locator("#count-unchanged")).ToHaveTextAsync("1200");

        // 10,001 rows, a wrong header, or bytes that are not UTF-8: refused whole, nothing written.
        var tooMany = "reference,email,firstName,lastName\n" + string.Concat(Enumerable.Range(0, 10_001).Select(i => $"XL-{suffix}-{i},xl-{i}-{suffix.ToLowerInvariant()}@shop.test,A,B\n"));
        await UploadAsync(page, tooMany);
        await Expect(page.Locator("#file-refused")).ToHaveAttributeAsync("data-code", "csv_too_many_rows");
        await Expect(page.Locator("#file-refused")).ToContainTextAsync("10,001");
        await UploadAsync(page, "ref,mail\nA,b@c.test\n");
        await Expect(page.Locator("#file-refused")).ToHaveAttributeAsync("data-code", "csv_header");
        await UploadAsync(page, Encoding.Latin1.GetBytes($"reference,email,firstName,lastName\nL1-{suffix},l1@shop.test,Jürgen,B\n"));
        await Expect(page.Locator("#file-refused")).ToHaveAttributeAsync("data-code", "csv_not_utf8");
        await using (var scope = App.Scope(out var db))
        {
            Assert.False(await db.Customers.AnyAsync(c => c.NormalizedReference.StartsWith($"XL-{suffix}") || c.NormalizedReference == $"L1-{suffix}"));
        }
    }

    [Fact]
    public async Task The_resource_catalog_registers_a_section_shows_the_roles_using_it_and_refuses_removing_what_they_use()
    {
        var section = $"orders{Guid.NewGuid().ToString("N")[..6]}";
        var page = await AdminAsync();
        await page.GotoAsync("/admin/resources");
        await page.FillAsync("#section-name", section);
        await page.FillAsync("#section-actions", "read, refund");
        await page.ClickAsync("#register");
        await Expect(page.Locator("#notice")).ToContainTextAsync(section);
        var card = page.Locator($"section[data-section='{section}']");
        await Expect(card.Locator("tr[data-action]")).ToHaveCountAsync(2);

        // A role allowing refund on the new section, made on the role page's matrix.
        var role = $"Refunds-{Guid.NewGuid().ToString("N")[..6]}";
        await page.GotoAsync("/admin/roles/new");
        await page.FillAsync("#name", role);
        await page.CheckAsync($"tr[data-rule='{section}:refund'] input[value=allow]");
        await page.ClickAsync("#save-role");
        await Expect(page.Locator("#notice")).ToContainTextAsync("was created");

        await page.GotoAsync("/admin/resources");
        await Expect(card.Locator($"tr[data-action='refund'] a[data-role='{role}']")).ToBeVisibleAsync();
        await Expect(card.Locator(".section-roles")).ToContainTextAsync(role);
        await Expect(card.Locator("tr[data-action='read'] .uses")).ToContainTextAsync("none");

        // Removing the used action, or the whole section, is refused naming the role; the unused action goes.
        await card.Locator("tr[data-action='refund'] button.remove-action").ClickAsync();
        await Expect(page.Locator(".error-summary")).ToContainTextAsync(role);
        await card.Locator("button.remove-section-button").ClickAsync();
        await Expect(page.Locator(".error-summary")).ToContainTextAsync($"{section}:refund");
        await card.Locator("tr[data-action='read'] button.remove-action").ClickAsync();
        await Expect(page.Locator("#notice")).ToContainTextAsync("read");
        await Expect(card.Locator("tr[data-action]")).ToHaveCountAsync(1);

        // Another tab still showing the catalog before a change is told it changed, and changes nothing.
        var stale = await AdminAsync();
        await stale.GotoAsync("/admin/resources");
        await card.Locator("input.add-action-input").FillAsync("export");
        await card.Locator("button.add-action-button").ClickAsync();
        await Expect(page.Locator("#notice")).ToBeVisibleAsync();
        var staleCard = stale.Locator($"section[data-section='{section}']");
        await staleCard.Locator("input.add-action-input").FillAsync("archive");
        await staleCard.Locator("button.add-action-button").ClickAsync();
        await Expect(stale.Locator(".error-summary")).ToContainTextAsync("changed since this page showed it");
        await Expect(staleCard.Locator("tr[data-action='export']")).ToBeVisibleAsync();
        await Expect(staleCard.Locator("tr[data-action='archive']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task The_role_page_lists_holders_directly_and_through_groups_in_pages_and_shows_privilege_descriptions()
    {
        var suffix = Guid.NewGuid().ToString("N")[..6];
        using var api = await Seed.AdminApiAsync(App);
        var role = $"Clerks-{suffix}";
        var created = await (await api.PostAsJsonAsync("/api/v1/roles", new { name = role, description = "Counter clerks", privileges = new[] { Privileges.ViewUsers } })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var roleId = created.GetProperty("id").GetGuid();
        var member = await Seed.UserAsync(App, UserType.BackOffice, null);
        var group = $"Branch-{suffix}";
        Assert.True((await api.PostAsJsonAsync("/api/v1/groups", new { name = group, roles = new[] { role }, userIds = new[] { member.Id } })).IsSuccessStatusCode);
        var direct = new List<string>();
        for (var i = 0; i < 51; i++)
        {
            direct.Add((await Seed.UserAsync(App, UserType.Api, null, role)).Username);
        }

        var page = await AdminAsync();
        await page.GotoAsync($"/admin/roles/{roleId}");
        await Expect(page.Locator("#privileges")).ToContainTextAsync(
            await PrivilegeDescriptionAsync(Privileges.ManageCustomers));
        await Expect(page.Locator("#privilege-description-VIEW_USERS")).ToBeVisibleAsync();

        await page.ClickAsync("#tab-holders");
        await Expect(page.Locator("#tab-holders")).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.Locator("#holders-table tbody tr[data-holder]")).ToHaveCountAsync(50);
        var firstPage = await page.Locator("#holders-table tbody tr[data-holder]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.holder + '|' + r.dataset.via)");
        await Screenshot(page, "role-holders");
        await page.ClickAsync("#holders-next");
        await Expect(page.Locator("#holders-next")).ToHaveCountAsync(0);
        var secondPage = await page.Locator("#holders-table tbody tr[data-holder]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.holder + '|' + r.dataset.via)");
        var all = firstPage.Concat(secondPage).ToList();
        Assert.Equal(52, all.Count);
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Contains($"{member.Username}|group", all);
        Assert.All(direct, d => Assert.Contains($"{d}|direct", all));

        // The BackOffice member ("bo.…") sorts after the API users ("api.…"): on the second page, naming the group.
        Assert.Contains($"{member.Username}|group", secondPage);
        await Expect(page.Locator($"#holders-table tr[data-holder='{member.Username}'][data-via='group']")).ToContainTextAsync(group);
        await page.ClickAsync("#holders-first");
        await Expect(page.Locator("#holders-table tbody tr[data-holder]")).ToHaveCountAsync(50);
    }

    [Fact]
    public async Task At_phone_width_the_role_page_keeps_its_inputs_inside_their_card()
    {
        var page = await AdminAsync(390);
        await page.GotoAsync("/admin/roles/new");
        await AssertNoHorizontalOverflowAsync(page, 390);
        var spill = await page.EvaluateAsync<int>(
            "() => { const card = document.getElementById('role-form').getBoundingClientRect(); return [...document.querySelectorAll('#role-form input')].filter(i => !i.closest('.table-wrap') && i.getBoundingClientRect().right > card.right + 0.5).length; }");
        Assert.Equal(0, spill);
    }

    [Fact]
    public async Task An_agent_with_an_empty_scope_is_told_so_and_where_it_is_set()
    {
        var page = await AdminAsync();
        Guid adminId;
        await using (var scope = App.Scope(out var db))
        {
            adminId = (await db.Users.SingleAsync(u => u.NormalizedUsername == TesseraApp.AdminUsername.ToUpperInvariant())).Id;
            db.AgentScopes.RemoveRange(db.AgentScopes.Where(s => s.UserId == adminId));
            db.AgentCustomers.RemoveRange(db.AgentCustomers.Where(a => a.UserId == adminId));
            await db.SaveChangesAsync();
        }

        await page.GotoAsync("/agent");
        await Expect(page.Locator("#empty-scope")).ToBeVisibleAsync();
        await Expect(page.Locator("#set-scope")).ToHaveAttributeAsync("href", $"/admin/users/{adminId}#agent-assist");
        await Expect(page.Locator("#manage-customers")).ToHaveAttributeAsync("href", "/admin/customers");
        await Expect(page.Locator("#customer-search")).ToHaveCountAsync(0);
    }

    private async Task<string> PrivilegeDescriptionAsync(string privilege)
    {
        await using var scope = App.Scope(out var db);
        return (await db.Privileges.SingleAsync(p => p.Name == privilege)).Description;
    }

    private async Task<int> CountAsync(string suffix)
    {
        await using var scope = App.Scope(out var db);
        return await db.Customers.CountAsync(c => c.NormalizedReference.StartsWith($"IM-{suffix}-"));
    }

    private static Task UploadAsync(IPage page, string csv) => UploadAsync(page, Encoding.UTF8.GetBytes(csv));

    private static async Task UploadAsync(IPage page, byte[] bytes)
    {
        await page.GotoAsync("/admin/customers");
        await page.SetInputFilesAsync("#file", new FilePayload { Name = "customers.csv", MimeType = "text/csv", Buffer = bytes });
        await page.ClickAsync("#preview");
        await Expect(page.Locator("#import-preview")).ToBeVisibleAsync();
    }
}
