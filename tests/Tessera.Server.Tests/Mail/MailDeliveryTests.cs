using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MimeKit;
using Tessera.Server.Mail;
using Tessera.Server.Storage;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Mail;

public sealed class SqliteMailDeliveryTests(SmtpSinkFixture sink) : MailDeliveryTests(sink)
{
    protected override string Provider => "sqlite";
}

public sealed class PostgresMailDeliveryTests(SmtpSinkFixture sink) : MailDeliveryTests(sink)
{
    protected override string Provider => "postgres";
}

/// <summary>One real SMTP server per test class; tests tell their messages apart by unique recipients.</summary>
public sealed class SmtpSinkFixture : IAsyncLifetime
{
    public SmtpSinkProcess Sink { get; private set; } = null!;

    public async Task InitializeAsync() => Sink = await SmtpSinkProcess.StartAsync();

    public async Task DisposeAsync() => await Sink.DisposeAsync();
}

/// <summary>The outbox end to end: a host that queues mail in its transactions and a real SMTP server that receives it.</summary>
public abstract class MailDeliveryTests(SmtpSinkFixture fixture) : IClassFixture<SmtpSinkFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private SmtpSinkProcess Sink => fixture.Sink;

    protected abstract string Provider { get; }

    [Fact]
    public async Task A_message_queued_with_a_committed_change_arrives_rendered_with_values_encoded_in_the_html()
    {
        await using var host = MailHost.Start(Provider, SmtpSettings(Sink.SmtpPort));
        var to = UniqueAddress("invited");
        var settingKey = "mail-test." + Guid.NewGuid().ToString("N");
        Guid id;
        await using (var scope = host.App.Scope(out var db))
        {
            db.Settings.Add(new Setting { Key = settingKey, Value = "changed", UpdatedAt = DateTime.UtcNow });
            id = Outbox(scope).Enqueue(db, to, MailTemplates.Invitation, Values("ann.lee", firstName: "Ann <script>alert(1)</script>")).Id;
            await db.SaveChangesAsync();
        }

        var mail = await Sink.WaitForMessageAsync(m => m.To.Contains(to), Patience);

        Assert.Equal("You are invited to Tessera", mail.Subject);
        Assert.Equal("no-reply@tessera.invalid", mail.From);
        Assert.Contains("Hello Ann <script>alert(1)</script>,", mail.Text, StringComparison.Ordinal);
        Assert.Contains("Your username is ann.lee.", mail.Text, StringComparison.Ordinal);
        Assert.Contains(Link, mail.Text, StringComparison.Ordinal);
        Assert.Contains("expires in 72 hours", mail.Text, StringComparison.Ordinal);
        Assert.NotNull(mail.Html);
        Assert.Contains("Hello Ann &lt;script&gt;alert(1)&lt;/script&gt;,", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", mail.Html, StringComparison.Ordinal);
        Assert.Contains("href=\"https://tessera.test/set-password?token=abc&amp;user=1\"", mail.Html, StringComparison.Ordinal);

        var row = await WaitForRowAsync(host.App, id, m => m.Status == OutboxStatus.Sent);
        Assert.NotNull(row.SentAt);
        Assert.Equal(1, row.Attempts);
        Assert.Null(row.LastError);
        await using (var scope = host.App.Scope(out var db))
        {
            Assert.True(await db.Settings.AnyAsync(s => s.Key == settingKey), "the change that queued the mail was committed with it");
        }
    }

    [Fact]
    public async Task A_message_queued_in_a_transaction_that_rolls_back_is_never_sent()
    {
        await using var host = MailHost.Start(Provider, SmtpSettings(Sink.SmtpPort));
        var rolledBack = UniqueAddress("rolled-back");
        var sentinel = UniqueAddress("sentinel");

        await using (var scope = host.App.Scope(out var db))
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            Outbox(scope).Enqueue(db, rolledBack, MailTemplates.PasswordReset, Values("rolled.back"));
            await db.SaveChangesAsync();

            // Saved but not committed, across several polls of the dispatcher: it must not see the message.
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            await tx.RollbackAsync();
        }

        // A message queued afterwards arrives; the dispatcher works in order, so the first would have come before it.
        await using (var scope = host.App.Scope(out var db))
        {
            Outbox(scope).Enqueue(db, sentinel, MailTemplates.PasswordReset, Values("sentinel"));
            await db.SaveChangesAsync();
        }

        await Sink.WaitForMessageAsync(m => m.To.Contains(sentinel), Patience);
        var received = await Sink.MessagesAsync();
        Assert.DoesNotContain(received, m => m.To.Contains(rolledBack));
        await using (var scope = host.App.Scope(out var db))
        {
            Assert.False(await db.OutboxMessages.AnyAsync(m => m.To == rolledBack), "the rolled-back message left no row");
        }
    }

    [Fact]
    public async Task A_message_queued_while_the_smtp_server_is_down_is_retried_and_delivered_once_it_is_back()
    {
        await using var host = MailHost.Start(Provider, SmtpSettings(Sink.SmtpPort));
        var to = UniqueAddress("outage");
        Guid id;
        await Sink.StopAsync();
        try
        {
            await using (var scope = host.App.Scope(out var db))
            {
                id = Outbox(scope).Enqueue(db, to, MailTemplates.PasswordChanged, Values("outage.user")).Id;
                await db.SaveChangesAsync();
            }

            var failed = await WaitForRowAsync(host.App, id, m => m.Attempts > 0 && m.LastError is not null);
            Assert.Equal(OutboxStatus.Pending, failed.Status);
            Assert.Null(failed.SentAt);
            Assert.DoesNotContain("outage.user", failed.LastError!, StringComparison.Ordinal);
        }
        finally
        {
            await Sink.RestartAsync();
        }

        var mail = await Sink.WaitForMessageAsync(m => m.To.Contains(to), Patience);
        Assert.Equal("Your Tessera password was changed", mail.Subject);
        var sent = await WaitForRowAsync(host.App, id, m => m.Status == OutboxStatus.Sent);
        Assert.True(sent.Attempts >= 2, $"delivered after {sent.Attempts} attempt(s)");
        Assert.Single(await Sink.MessagesAsync(), m => m.To.Contains(to));
    }

    [Fact]
    public async Task A_message_that_keeps_failing_ends_failed_with_a_mail_failed_audit_event()
    {
        var closedPort = TesseraApp.FreePort();
        var settings = SmtpSettings(closedPort);
        settings["Tessera:Mail:MaxAttempts"] = "2";
        await using var host = MailHost.Start(Provider, settings);
        var to = UniqueAddress("undeliverable");
        Guid id;
        await using (var scope = host.App.Scope(out var db))
        {
            id = Outbox(scope).Enqueue(db, to, MailTemplates.Invitation, Values("never.there")).Id;
            await db.SaveChangesAsync();
        }

        var row = await WaitForRowAsync(host.App, id, m => m.Status != OutboxStatus.Pending);
        Assert.Equal(OutboxStatus.Failed, row.Status);
        Assert.Equal(2, row.Attempts);
        Assert.False(string.IsNullOrWhiteSpace(row.LastError));
        Assert.Null(row.SentAt);

        await using (var scope = host.App.Scope(out var db))
        {
            var audit = await db.AuditEvents.AsNoTracking().SingleAsync(a => a.Action == "mail.failed" && a.TargetId == id.ToString());
            Assert.Equal("mail", audit.TargetType);
            Assert.Equal("failure", audit.Outcome);
            Assert.Equal("system", audit.ActorName);
            using var details = JsonDocument.Parse(audit.Details!);
            Assert.Equal(to, details.RootElement.GetProperty("to").GetString());
            Assert.Equal("You are invited to Tessera", details.RootElement.GetProperty("subject").GetString());
            Assert.Equal(2, details.RootElement.GetProperty("attempts").GetInt32());
            Assert.Equal(row.LastError, details.RootElement.GetProperty("error").GetString());
            Assert.DoesNotContain(Link, audit.Details!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Without_an_smtp_host_messages_are_written_as_eml_files_to_the_outbox_folder()
    {
        var folder = Directory.CreateTempSubdirectory("tessera-outbox-").FullName;
        try
        {
            await using var host = MailHost.Start(Provider, new Dictionary<string, string?>
            {
                ["Tessera:Mail:OutboxPath"] = folder,
                ["Tessera:Mail:PollSeconds"] = "1",
            });
            var to = UniqueAddress("file");
            Guid id;
            await using (var scope = host.App.Scope(out var db))
            {
                id = Outbox(scope).Enqueue(db, to, MailTemplates.Invitation, Values("file.user")).Id;
                await db.SaveChangesAsync();
            }

            await WaitForRowAsync(host.App, id, m => m.Status == OutboxStatus.Sent);
            var file = Assert.Single(Directory.GetFiles(folder, "*.eml"));
            Assert.Contains(id.ToString("N"), Path.GetFileName(file), StringComparison.Ordinal);
            Assert.Contains("Subject: You are invited to Tessera", await File.ReadAllTextAsync(file), StringComparison.Ordinal);

            using var message = await MimeMessage.LoadAsync(file);
            Assert.Equal(to, message.To.Mailboxes.Single().Address);
            Assert.Contains(Link, message.TextBody, StringComparison.Ordinal);
            Assert.Contains("file.user", message.HtmlBody, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_template_in_the_operators_templates_folder_wins_over_the_embedded_default()
    {
        var templates = Directory.CreateTempSubdirectory("tessera-templates-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(templates, "invitation.subject.txt"), "Welcome aboard {{productName}}, {{username}}\n");
            var settings = SmtpSettings(Sink.SmtpPort);
            settings["Tessera:Mail:TemplatesPath"] = templates;
            settings["Tessera:Mail:ProductName"] = "Acme Back Office";
            await using var host = MailHost.Start(Provider, settings);
            var to = UniqueAddress("custom");
            await using (var scope = host.App.Scope(out var db))
            {
                Outbox(scope).Enqueue(db, to, MailTemplates.Invitation, Values("custom.user"));
                await db.SaveChangesAsync();
            }

            var mail = await Sink.WaitForMessageAsync(m => m.To.Contains(to), Patience);
            Assert.Equal("Welcome aboard Acme Back Office, custom.user", mail.Subject);
            Assert.Contains("Choose your password here:", mail.Text, StringComparison.Ordinal); // the parts not overridden stay the defaults
        }
        finally
        {
            Directory.Delete(templates, recursive: true);
        }
    }

    [Fact]
    public async Task Two_instances_on_one_database_send_each_message_exactly_once()
    {
        var database = TestDatabase.Create(Provider);
        var settings = SmtpSettings(Sink.SmtpPort);
        var first = new TesseraApp(database, settings).Started();
        var second = new TesseraApp(database, settings).Started();
        try
        {
            var recipients = Enumerable.Range(1, 12).Select(i => UniqueAddress($"pair{i}")).ToList();
            await using (var scope = first.Scope(out var db))
            {
                var outbox = Outbox(scope);
                foreach (var to in recipients)
                {
                    outbox.Enqueue(db, to, MailTemplates.PasswordChanged, Values("pair.user"));
                }

                await db.SaveChangesAsync();
            }

            // Besides the background loops, several passes of each instance's dispatcher at the same moment:
            // all see the same due messages, and only the claim keeps them from sending one twice.
            var dispatchers = new[] { first, second }.Select(Dispatcher).ToList();
            await Task.WhenAll(Enumerable.Range(0, 4).SelectMany(_ => dispatchers.Select(d => d.DispatchDueAsync(CancellationToken.None))));

            foreach (var to in recipients)
            {
                await Sink.WaitForMessageAsync(m => m.To.Contains(to), Patience);
            }

            await Task.Delay(TimeSpan.FromSeconds(2)); // time enough for a duplicate to show
            var received = await Sink.MessagesAsync();
            foreach (var to in recipients)
            {
                Assert.Single(received, m => m.To.Contains(to));
            }

            await using (var scope = second.Scope(out var db))
            {
                var rows = await db.OutboxMessages.AsNoTracking().Where(m => recipients.Contains(m.To)).ToListAsync();
                Assert.Equal(recipients.Count, rows.Count);
                Assert.All(rows, m => Assert.Equal((OutboxStatus.Sent, 1), (m.Status, m.Attempts)));
            }
        }
        finally
        {
            await second.DisposeAsync();
            await first.DisposeAsync();
            await database.DisposeAsync();
        }
    }

    private const string Link = "https://tessera.test/set-password?token=abc&user=1";

    private static Dictionary<string, string> Values(string username, string firstName = "Ann") => new()
    {
        ["link"] = Link,
        ["username"] = username,
        ["firstName"] = firstName,
        ["expiresHours"] = "72",
    };

    private static Dictionary<string, string?> SmtpSettings(int port) => new()
    {
        ["Tessera:Mail:Smtp:Host"] = "127.0.0.1",
        ["Tessera:Mail:Smtp:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Tessera:Mail:Smtp:Security"] = "None",
        ["Tessera:Mail:Smtp:TimeoutSeconds"] = "10",
        ["Tessera:Mail:RetrySeconds"] = "1",
        ["Tessera:Mail:PollSeconds"] = "1",
    };

    private static string UniqueAddress(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..10]}@example.test";

    private static OutboxDispatcher Dispatcher(TesseraApp app) => app.Services.GetServices<IHostedService>().OfType<OutboxDispatcher>().Single();

    private static MailOutbox Outbox(AsyncServiceScope scope) => scope.ServiceProvider.GetRequiredService<MailOutbox>();

    /// <summary>Reads the stored message until it matches; on timeout, fails with what it last saw.</summary>
    private static async Task<OutboxMessage> WaitForRowAsync(TesseraApp app, Guid id, Func<OutboxMessage, bool> done)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            OutboxMessage row;
            await using (var scope = app.Scope(out var db))
            {
                row = await db.OutboxMessages.AsNoTracking().SingleAsync(m => m.Id == id);
            }

            if (done(row))
            {
                return row;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Outbox message {id} did not reach the expected state; last seen: status {row.Status}, " +
                            $"attempts {row.Attempts}, next attempt {row.NextAttemptAt:O}, error {row.LastError ?? "none"}.");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>A host of its own, with its own database, for settings that differ per test.</summary>
    private sealed class MailHost : IAsyncDisposable
    {
        private MailHost(TesseraApp app) => App = app;

        public TesseraApp App { get; }

        public static MailHost Start(string provider, IReadOnlyDictionary<string, string?> settings)
        {
            var database = TestDatabase.Create(provider);
            try
            {
                return new MailHost(new TesseraApp(database, settings).Started());
            }
            catch
            {
                database.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            await App.Database.DisposeAsync();
        }
    }
}
