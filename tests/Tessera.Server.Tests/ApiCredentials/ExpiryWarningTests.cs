using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.ApiCredentials;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Credentials;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.ApiCredentials;

public sealed class SqliteExpiryWarningTests(SqliteMailedHost host) : ExpiryWarningTests<SqliteMailedHost>(host);

public sealed class PostgresExpiryWarningTests(PostgresMailedHost host) : ExpiryWarningTests<PostgresMailedHost>(host);

/// <summary>
/// The expiry warnings of API credentials: 14 and then 3 days before, each once, as an audit event and a mail to the
/// API user's email, with the host's clock moved and the job's look run as its timer runs it. "No further mail" is
/// proven by a later sentinel mail, which the dispatcher sends after anything queued before it.
/// </summary>
public abstract class ExpiryWarningTests<THost>(THost host) : IClassFixture<THost> where THost : MailedHost
{
    private static readonly TimeSpan MailWait = TimeSpan.FromSeconds(20);
    private TesseraApp App => host.App;

    private CredentialExpiryWarnings Job => App.Services.GetRequiredService<CredentialExpiryWarnings>();

    [Fact]
    public async Task A_credential_is_warned_of_14_and_then_3_days_before_it_expires_once_each()
    {
        var user = await ApiUserAsync("erp");
        var expiresAt = Now().AddDays(20);
        var (credentialId, secret) = await AddAsync(user.Id, "erp-2027", expiresAt);
        await AddAsync(user.Id, "forever", null);

        // Seven days early: nothing is due yet.
        App.Clock.Advance(TimeSpan.FromDays(5));
        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Empty(await MailsToAsync(user.Email));

        App.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        await Job.WarnDueAsync(CancellationToken.None);
        var first = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(user.Email) && m.Subject.Contains("expires in 14 days", StringComparison.Ordinal), MailWait);
        Assert.Equal($"An API credential of {user.Username} expires in 14 days", first.Subject);
        Assert.Contains("erp-2027", first.Text, StringComparison.Ordinal);
        Assert.Contains(expiresAt.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), first.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, first.Text + first.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("forever", first.Text, StringComparison.Ordinal);

        // A second look the same day (or on another instance) sends nothing more.
        await Job.WarnDueAsync(CancellationToken.None);
        App.Clock.Advance(TimeSpan.FromDays(5));
        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Single(await MailsToAsync(user.Email));

        App.Clock.Advance(TimeSpan.FromDays(6));
        await Job.WarnDueAsync(CancellationToken.None);
        var second = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(user.Email) && m.Subject.Contains("expires in 3 days", StringComparison.Ordinal), MailWait);
        Assert.DoesNotContain(secret, second.Text + second.Html, StringComparison.Ordinal);
        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Equal(2, (await MailsToAsync(user.Email)).Count);

        var events = await EventsAsync(user.Id);
        Assert.Equal([14, 3], events.Select(e => e.GetProperty("daysLeft").GetInt32()));
        Assert.All(events, e =>
        {
            Assert.Equal(credentialId, e.GetProperty("credentialId").GetGuid());
            Assert.Equal("erp-2027", e.GetProperty("name").GetString());
            Assert.Equal(expiresAt, e.GetProperty("expiresAt").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        });

        // Expired: no further warning.
        App.Clock.Advance(TimeSpan.FromDays(4));
        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Equal(2, (await MailsToAsync(user.Email)).Count);
        Assert.Equal(2, (await EventsAsync(user.Id)).Count);
    }

    [Fact]
    public async Task No_warning_for_a_credential_without_expiry_or_one_deleted()
    {
        var lasting = await ApiUserAsync("lasting");
        await AddAsync(lasting.Id, "no-expiry", null);
        var rotated = await ApiUserAsync("rotated");
        var (oldId, _) = await AddAsync(rotated.Id, "old", Now().AddDays(10));
        using (var admin = await Seed.AdminApiAsync(App))
        {
            await Expect.ResponseAsync(await admin.DeleteAsync($"/api/v1/users/{rotated.Id}/credentials/{oldId}"), HttpStatusCode.NoContent);
        }

        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Empty(await MailsToAsync(lasting.Email));
        Assert.Empty(await MailsToAsync(rotated.Email));
        Assert.Empty(await EventsAsync(lasting.Id));
        Assert.Empty(await EventsAsync(rotated.Id));
    }

    [Fact]
    public async Task A_reserved_invalid_address_gets_no_mail_but_the_warning_is_audited()
    {
        var user = await ApiUserAsync("internal", "internal.client@tessera.invalid");
        await AddAsync(user.Id, "internal-key", Now().AddDays(2));

        await Job.WarnDueAsync(CancellationToken.None);
        await SentinelAsync();
        Assert.Empty(await MailsToAsync(user.Email));
        // Created two days (less a moment) before it expires: the 3-day warning, saying two days.
        Assert.Equal(2, Assert.Single(await EventsAsync(user.Id)).GetProperty("daysLeft").GetInt32());
    }

    [Fact]
    public async Task Two_looks_at_once_claim_each_warning_once()
    {
        var user = await ApiUserAsync("raced");
        await AddAsync(user.Id, "raced-key", Now().AddDays(13));

        // Two looks from separate scopes and connections, as two instances would run them.
        await Task.WhenAll(Job.WarnDueAsync(CancellationToken.None), Job.WarnDueAsync(CancellationToken.None), Job.WarnDueAsync(CancellationToken.None));
        await SentinelAsync();
        Assert.Single(await MailsToAsync(user.Email));
        Assert.Single(await EventsAsync(user.Id));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("169")]
    public async Task An_expiry_check_period_out_of_range_stops_the_start_and_names_the_setting(string hours)
    {
        await using var app = new TesseraApp(App.Database, new Dictionary<string, string?> { ["Tessera:ApiCredentials:ExpiryCheckHours"] = hours });
        var failure = Assert.ThrowsAny<Exception>(() => app.Started());
        Assert.Contains("Tessera:ApiCredentials:ExpiryCheckHours", failure.ToString(), StringComparison.Ordinal);
    }

    private DateTime Now() => App.Clock.GetUtcNow().UtcDateTime;

    private async Task<User> ApiUserAsync(string prefix, string? email = null)
        => await Seed.UserAsync(App, UserType.Api, null, CredentialMode.Password, email ?? $"{Seed.Unique(prefix)}@example.test", BuiltInRoles.System);

    /// <summary>Adds a credential through the API, as an administrator would; returns its id and the secret.</summary>
    private async Task<(Guid Id, string Secret)> AddAsync(Guid userId, string name, DateTime? expiresAt)
    {
        using var admin = await Seed.AdminApiAsync(App);
        var created = await Expect.ResponseAsync(await admin.PostAsJsonAsync($"/api/v1/users/{userId}/credentials", new { name, type = "secret", expiresAt }), HttpStatusCode.Created);
        return (created.GetProperty("id").GetGuid(), created.GetProperty("secret").GetString()!);
    }

    /// <summary>
    /// A warning due now for a user of its own, queued after whatever the looks before it queued, and waited for:
    /// once it has arrived, a mail those looks queued would have arrived too.
    /// </summary>
    private async Task SentinelAsync()
    {
        var sentinel = await ApiUserAsync("sentinel");
        await AddAsync(sentinel.Id, "sentinel", Now().AddDays(1));
        await Job.WarnDueAsync(CancellationToken.None);
        await host.Smtp.WaitForMessageAsync(m => m.To.Contains(sentinel.Email), MailWait);
    }

    private async Task<List<ReceivedMail>> MailsToAsync(string email)
        => [.. (await host.Smtp.MessagesAsync()).Where(m => m.To.Contains(email, StringComparer.OrdinalIgnoreCase))];

    private async Task<List<JsonElement>> EventsAsync(Guid userId)
    {
        await using var scope = App.Scope(out var db);
        var details = await db.AuditEvents.Where(a => a.Action == CredentialExpiryWarnings.AuditAction && a.TargetId == userId.ToString())
            .OrderBy(a => a.At).Select(a => a.Details!).ToListAsync();
        return [.. details.Select(d => JsonDocument.Parse(d).RootElement.Clone())];
    }
}
