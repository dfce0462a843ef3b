using System.Net.Http.Json;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

using static Tessera.BrowserTests.BrowserSteps;

namespace Tessera.BrowserTests;

/// <summary>The audit page: a change read as field, before and after; the client address; the filtered events exported as CSV.</summary>
public sealed class AuditPageTests(BrowserHost host) : IClassFixture<BrowserHost>
{
    private const string Password = "Audit-Page-Password-1";

    private TesseraApp App => host.App;

    [Fact]
    public async Task A_change_reads_as_before_and_after_with_the_client_address_and_the_export_holds_the_filtered_events_only()
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        var target = await Seed.UserAsync(App, UserType.BackOffice, Password);
        var other = await Seed.UserAsync(App, UserType.BackOffice, Password);
        using var api = await Seed.AdminApiAsync(App);
        var newEmail = $"moved.{target.Username}@example.com";
        Assert.True((await api.PatchAsJsonAsync($"/api/v1/users/{target.Id}", new { email = newEmail, firstName = "Renamed" })).IsSuccessStatusCode);
        Assert.True((await api.PatchAsJsonAsync($"/api/v1/users/{other.Id}", new { firstName = "Other" })).IsSuccessStatusCode);

        var page = await host.NewPageAsync();
        await SignInAsync(page, admin.Username, Password);
        await page.GotoAsync("/admin/audit");
        await page.FillAsync("#a-action", "user.updated");
        await page.FillAsync("#a-target", target.Username);
        await page.ClickAsync("#apply-audit-filters");

        var row = page.Locator("#audit tbody tr[data-action='user.updated']");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.Locator("td.client-ip")).ToHaveTextAsync("127.0.0.1");
        await Expect(row.Locator("time")).ToHaveAttributeAsync("title", "UTC");
        await row.Locator("details summary").ClickAsync();
        var email = row.Locator(".audit-diff tbody tr", new() { Has = page.Locator("th", new() { HasTextString = "email" }) });
        await Expect(email.Locator("td.before")).ToHaveTextAsync(target.Email);
        await Expect(email.Locator("td.after")).ToHaveTextAsync(newEmail);
        await Screenshot(page, "audit");

        // The export link carries the same filters: the one event of the target, none of the other user's.
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#export-audit"));
        Assert.Equal("audit-events.csv", download.SuggestedFilename);
        var lines = File.ReadAllLines((await download.PathAsync())!);
        Assert.StartsWith("id,at,actor,", lines[0], StringComparison.Ordinal);
        var rows = lines.Skip(1).Select(Fields).ToList();
        var only = Assert.Single(rows);
        Assert.Equal("user.updated", only[4]);
        Assert.Equal(target.Username, only[8]);
        Assert.Equal("127.0.0.1", only[9]);
    }

    /// <summary>One RFC 4180 line's fields (the test's lines hold no line breaks).</summary>
    private static string[] Fields(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                field.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return [.. fields];
    }
}
