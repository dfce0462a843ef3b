using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Tessera.Core.Access;
using Tessera.Core.Users;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Mail;

/// <summary>
/// A Tessera host whose mail goes to a real SMTP server, with a templates folder that replaces one German part (the
/// invitation's subject) and nothing English.
/// </summary>
public abstract class LanguageMailedHost(string provider) : IAsyncLifetime
{
    public const string GermanSubjectOverride = "Willkommen bei {{productName}}, {{username}}";

    private readonly string _templates = Directory.CreateTempSubdirectory("tessera-templates-").FullName;

    public TesseraApp App { get; private set; } = null!;

    public SmtpSinkProcess Smtp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_templates, "invitation.de.subject.txt"), GermanSubjectOverride);
        Smtp = await SmtpSinkProcess.StartAsync();
        App = new TesseraApp(TestDatabase.Create(provider), new Dictionary<string, string?>
        {
            ["Tessera:Mail:Smtp:Host"] = "127.0.0.1",
            ["Tessera:Mail:Smtp:Port"] = Smtp.SmtpPort.ToString(CultureInfo.InvariantCulture),
            ["Tessera:Mail:Smtp:Security"] = "None",
            ["Tessera:Mail:PollSeconds"] = "1",
            ["Tessera:Mail:RetrySeconds"] = "1",
            ["Tessera:Mail:TemplatesPath"] = _templates,
        }).Started();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await App.Database.DisposeAsync();
        await Smtp.DisposeAsync();
        Directory.Delete(_templates, recursive: true);
    }
}

public sealed class SqliteLanguageMailedHost() : LanguageMailedHost("sqlite");

public sealed class PostgresLanguageMailedHost() : LanguageMailedHost("postgres");

public sealed class SqliteMailLanguageTests(SqliteLanguageMailedHost host) : MailLanguageTests<SqliteLanguageMailedHost>(host);

public sealed class PostgresMailLanguageTests(PostgresLanguageMailedHost host) : MailLanguageTests<PostgresLanguageMailedHost>(host);

/// <summary>
/// The language of a mail: the recipient's profile language, else the language of the Back Office request that queued
/// it (the administrator's profile, else their browser), else English; proven on mail received over SMTP.
/// </summary>
public abstract class MailLanguageTests<THost>(THost host) : IClassFixture<THost> where THost : LanguageMailedHost
{
    private const string Password = "Mail-Language-Password-1";
    private static readonly TimeSpan MailWait = TimeSpan.FromSeconds(20);

    private TesseraApp App => host.App;

    [Fact]
    public async Task An_invitation_to_a_user_who_chose_German_arrives_in_German_even_through_the_API()
    {
        var invited = await Seed.UserAsync(App, UserType.BackOffice, null, BuiltInRoles.Administrator);
        await Seed.UpdateUserAsync(App, invited.Id, u => u.Language = "de");
        using var api = await Seed.AdminApiAsync(App);

        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/v1/users/{invited.Id}/invitation", null)).StatusCode);

        var mail = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(invited.Email), MailWait);
        AssertGerman(mail, invited.Username);
    }

    [Fact]
    public async Task An_invitation_sent_from_a_German_Back_Office_page_arrives_in_German()
    {
        using var browser = await AdministratorAsync(profileLanguage: null, browserLanguage: "de-DE");

        var (username, email) = await CreateUserAsync(browser);

        AssertGerman(await host.Smtp.WaitForMessageAsync(m => m.To.Contains(email), MailWait), username);
    }

    [Fact]
    public async Task The_administrators_profile_language_decides_over_their_browser()
    {
        using var browser = await AdministratorAsync(profileLanguage: "de", browserLanguage: "en-US");

        var (username, email) = await CreateUserAsync(browser);

        AssertGerman(await host.Smtp.WaitForMessageAsync(m => m.To.Contains(email), MailWait), username);
    }

    [Fact]
    public async Task An_invitation_from_an_English_page_stays_English_and_keeps_the_embedded_English_template()
    {
        using var browser = await AdministratorAsync(profileLanguage: null, browserLanguage: "en-US");

        var (username, email) = await CreateUserAsync(browser);

        var mail = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(email), MailWait);
        Assert.Equal("You are invited to Tessera", mail.Subject);
        Assert.Contains("an account has been created for you", mail.Text, StringComparison.Ordinal);
        Assert.Contains(username, mail.Text, StringComparison.Ordinal);
        Assert.Contains("<html lang=\"en\">", mail.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_recipient_who_chose_English_gets_English_from_a_German_administrator()
    {
        var invited = await Seed.UserAsync(App, UserType.BackOffice, null, BuiltInRoles.Administrator);
        await Seed.UpdateUserAsync(App, invited.Id, u => u.Language = "en");
        using var browser = await AdministratorAsync(profileLanguage: "de", browserLanguage: "de-DE");
        var page = await browser.GetStringAsync($"/admin/users/{invited.Id}");

        var sent = await browser.PostAsync($"/admin/users/{invited.Id}?handler=Invite", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(page),
        }));
        Assert.True(sent.StatusCode == HttpStatusCode.Redirect, $"{(int)sent.StatusCode}: {await sent.Content.ReadAsStringAsync()}");

        var mail = await host.Smtp.WaitForMessageAsync(m => m.To.Contains(invited.Email), MailWait);
        Assert.Equal("You are invited to Tessera", mail.Subject);
    }

    /// <summary>The German invitation: the subject from the templates folder, the bodies embedded.</summary>
    private static void AssertGerman(ReceivedMail mail, string username)
    {
        Assert.Equal($"Willkommen bei Tessera, {username}", mail.Subject);
        Assert.Contains("für Sie wurde ein Konto in Tessera angelegt", mail.Text, StringComparison.Ordinal);
        Assert.Contains("Wählen Sie hier Ihr Passwort", mail.Text, StringComparison.Ordinal);
        Assert.Contains("<html lang=\"de\">", mail.Html, StringComparison.Ordinal);
        Assert.Contains("Passwort wählen", mail.Html, StringComparison.Ordinal);
    }

    /// <summary>A Back Office administrator with this profile language, signed in from a browser that asks for this language.</summary>
    private async Task<HttpClient> AdministratorAsync(string? profileLanguage, string browserLanguage)
    {
        var admin = await Seed.UserAsync(App, UserType.BackOffice, Password, BuiltInRoles.Administrator);
        await Seed.UpdateUserAsync(App, admin.Id, u => u.Language = profileLanguage);
        var browser = App.Client(cookies: true);
        browser.DefaultRequestHeaders.AcceptLanguage.Add(new StringWithQualityHeaderValue(browserLanguage));
        Assert.Equal(HttpStatusCode.Redirect, (await Seed.SignInAsync(browser, admin.Username, Password)).StatusCode);
        return browser;
    }

    /// <summary>Adds a Back Office user through the "Add user" page, which invites them.</summary>
    private static async Task<(string Username, string Email)> CreateUserAsync(HttpClient browser)
    {
        var form = await browser.GetStringAsync("/admin/users/new");
        var username = Seed.Unique("welcome");
        var email = $"{username}@example.test";
        var created = await browser.PostAsync("/admin/users/new", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = Seed.AntiforgeryToken(form),
            ["Type"] = "backoffice",
            ["Username"] = username,
            ["Email"] = email,
            ["CredentialMode"] = "password",
            ["Roles"] = BuiltInRoles.Administrator,
        }));
        Assert.True(created.StatusCode == HttpStatusCode.Redirect, $"{(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        return (username, email);
    }
}
