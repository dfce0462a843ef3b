using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Tessera.Server.Mail;
using Tessera.Server.Tests.Infrastructure;

namespace Tessera.Server.Tests.Mail;

/// <summary>Rendering, encoding and overriding of the mail templates, and the checks of `Tessera:Mail` at start.</summary>
public sealed class MailTemplatesTests
{
    private static readonly Dictionary<string, string> Values = new()
    {
        ["link"] = "https://tessera.test/reset?token=a+b&user=\"1\"",
        ["username"] = "o'brien",
        ["firstName"] = "Zoë <b>&</b>",
        ["expiresHours"] = "24",
    };

    [Theory]
    [InlineData(MailTemplates.Invitation, "You are invited to Tessera")]
    [InlineData(MailTemplates.PasswordReset, "Reset your Tessera password")]
    [InlineData(MailTemplates.PasswordChanged, "Your Tessera password was changed")]
    public void Every_template_renders_a_subject_a_text_and_an_html_body_without_placeholders_left(string template, string subject)
    {
        var mail = Templates().Render(template, Values);

        Assert.Equal(subject, mail.Subject);
        Assert.Contains("Zoë <b>&</b>", mail.Text, StringComparison.Ordinal);
        Assert.Contains("o'brien", mail.Text, StringComparison.Ordinal);
        Assert.StartsWith("<!DOCTYPE html>", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("{{", mail.Subject + mail.Text + mail.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_are_html_encoded_in_the_html_body_and_left_as_they_are_in_the_text()
    {
        var mail = Templates().Render(MailTemplates.PasswordReset, Values);

        Assert.Contains("https://tessera.test/reset?token=a+b&user=\"1\"", mail.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("o'brien", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("user=\"1\"", mail.Html, StringComparison.Ordinal);
        Assert.Contains("&lt;b&gt;&amp;&lt;/b&gt;", mail.Html, StringComparison.Ordinal);
        Assert.Contains("token=a&#x2B;b&amp;user=&quot;1&quot;", mail.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_cannot_break_the_subject_onto_a_second_header_line()
    {
        var mail = Templates(new MailOptions { ProductName = "Acme\r\nBcc: someone@example.test" }).Render(MailTemplates.Invitation, Values);

        Assert.Equal("You are invited to Acme Bcc: someone@example.test", mail.Subject);
    }

    [Fact]
    public void A_missing_value_or_an_unknown_template_is_refused_by_name()
    {
        var templates = Templates();
        var withoutLink = new Dictionary<string, string>(Values);
        withoutLink.Remove("link");

        var missing = Assert.Throws<ArgumentException>(() => templates.Render(MailTemplates.Invitation, withoutLink));
        Assert.Contains("{{link}}", missing.Message, StringComparison.Ordinal);
        var unknown = Assert.Throws<ArgumentException>(() => templates.Render("welcome", Values));
        Assert.Contains("'welcome'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_in_the_templates_folder_replaces_only_its_part_of_the_template()
    {
        using var folder = new TempFolder();
        folder.Write("password-reset.txt", "Reset for {{username}} at {{link}} ({{productName}})");

        var mail = Templates(new MailOptions { TemplatesPath = folder.Path }).Render(MailTemplates.PasswordReset, Values);

        Assert.Equal("Reset for o'brien at https://tessera.test/reset?token=a+b&user=\"1\" (Tessera)", mail.Text);
        Assert.Equal("Reset your Tessera password", mail.Subject);
        Assert.Contains("Choose a new password", mail.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Override_files_with_unknown_placeholders_unknown_names_or_no_content_stop_the_start_naming_the_setting()
    {
        using var folder = new TempFolder();
        folder.Write("password-changed.txt", "Hello {{firstName}}, see {{link}}");
        folder.Write("pasword-reset.html", "<p>typo</p>");
        folder.Write("invitation.subject.txt", "  \n");
        folder.Write("README.md", "operator notes are fine");

        var result = new MailOptionsValidator().Validate(null, new MailOptions { TemplatesPath = folder.Path });

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Equal(3, failures.Count);
        Assert.All(failures, f => Assert.StartsWith("Tessera:Mail:TemplatesPath", f, StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'password-changed.txt' uses {{link}}", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'pasword-reset.html'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'invitation.subject.txt' is empty", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Tessera:Mail:From", "not an address")]
    [InlineData("Tessera:Mail:Smtp:Port", "0")]
    [InlineData("Tessera:Mail:MaxAttempts", "0")]
    [InlineData("Tessera:Mail:RetrySeconds", "0")]
    [InlineData("Tessera:Mail:PollSeconds", "0")]
    [InlineData("Tessera:Mail:TemplatesPath", "/nonexistent/tessera-templates")]
    public void A_wrong_mail_setting_is_refused_with_a_message_naming_it(string setting, string value)
    {
        var configuration = new Dictionary<string, string?> { ["Tessera:Mail:Smtp:Host"] = "smtp.example.test", [setting] = value };
        var options = new MailOptions();
        new ConfigurationBuilder().AddInMemoryCollection(configuration).Build()
            .GetSection(MailOptions.Section).Bind(options);

        var result = new MailOptionsValidator().Validate(null, options);

        Assert.True(result.Failed, $"{setting}={value} was accepted");
        Assert.Contains(result.Failures!, f => f.StartsWith(setting, StringComparison.Ordinal));
    }

    [Fact]
    public void The_defaults_are_valid_and_send_to_files()
    {
        var options = new MailOptions();

        Assert.True(new MailOptionsValidator().Validate(null, options).Succeeded);
        Assert.False(options.UsesSmtp);
        Assert.Equal(SmtpSecurity.StartTls, options.Smtp.Security);
        Assert.Equal(25, options.Smtp.Port);
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 10)]
    [InlineData(3, 20)]
    [InlineData(7, 320)]
    [InlineData(8, 600)]
    [InlineData(100, 600)]
    public void Retries_wait_the_base_delay_doubled_per_attempt_up_to_ten_minutes(int attempts, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), new MailOptions().RetryDelay(attempts));
    }

    [Fact]
    public async Task A_host_with_a_wrong_mail_setting_does_not_start_and_says_which()
    {
        await using var database = TestDatabase.Create("sqlite");
        await using var app = new TesseraApp(database, new Dictionary<string, string?>
        {
            ["Tessera:Mail:Smtp:Host"] = "127.0.0.1",
            ["Tessera:Mail:Smtp:Port"] = "70000",
        });

        var error = Assert.ThrowsAny<Exception>(() => app.Started());

        Assert.Contains("Tessera:Mail:Smtp:Port must be between 1 and 65535", error.ToString(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> TemplatesInEveryLanguage()
    {
        var data = new TheoryData<string, string>();
        foreach (var template in MailTemplates.Names)
        {
            foreach (var language in Tessera.Core.Users.UserPreferences.Languages)
            {
                data.Add(template, language);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TemplatesInEveryLanguage))]
    public void Every_template_exists_in_every_language_with_the_English_placeholders_and_its_own_html_lang(string template, string language)
    {
        Assert.Equal(MailTemplates.Placeholders(template, "en").Order(), MailTemplates.Placeholders(template, language).Order());
        var values = MailTemplates.Placeholders(template, "en").ToDictionary(p => p, p => $"<{p}>");

        var mail = Templates().Render(template, values, language);

        Assert.Contains($"<html lang=\"{language}\">", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("{{", mail.Subject + mail.Text + mail.Html, StringComparison.Ordinal);
        if (language != "en")
        {
            var english = Templates().Render(template, values);
            Assert.NotEqual(english.Subject, mail.Subject);
            Assert.NotEqual(english.Text, mail.Text);
        }
    }

    [Fact]
    public void A_German_file_in_the_templates_folder_replaces_the_German_part_only()
    {
        using var folder = new TempFolder();
        folder.Write("invitation.de.subject.txt", "Willkommen bei {{productName}}");

        var templates = Templates(new MailOptions { TemplatesPath = folder.Path });

        Assert.True(new MailOptionsValidator().Validate(null, new MailOptions { TemplatesPath = folder.Path }).Succeeded);
        Assert.Equal("Willkommen bei Tessera", templates.Render(MailTemplates.Invitation, Values, "de").Subject);
        Assert.Contains("Passwort wählen", templates.Render(MailTemplates.Invitation, Values, "de").Html, StringComparison.Ordinal);
        Assert.Equal("You are invited to Tessera", templates.Render(MailTemplates.Invitation, Values).Subject);
    }

    [Fact]
    public void An_override_in_an_unknown_language_or_with_an_unknown_placeholder_stops_the_start()
    {
        using var folder = new TempFolder();
        folder.Write("invitation.fr.html", "<p>Bonjour</p>");
        folder.Write("password-reset.de.txt", "Hallo {{credentialName}}");

        var failures = new MailOptionsValidator().Validate(null, new MailOptions { TemplatesPath = folder.Path }).Failures!.ToList();

        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.Contains("'invitation.fr.html', which replaces no template", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'password-reset.de.txt' uses {{credentialName}}", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_language_is_refused_by_name()
    {
        var unknown = Assert.Throws<ArgumentException>(() => Templates().Render(MailTemplates.Invitation, Values, "fr"));
        Assert.Contains("'fr'", unknown.Message, StringComparison.Ordinal);
    }

    private static MailTemplates Templates(MailOptions? options = null) => new(Options.Create(options ?? new MailOptions()));
}

/// <summary>A folder of template overrides that a test writes and removes.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tessera-templates-").FullName;

    public void Write(string file, string content) => File.WriteAllText(System.IO.Path.Combine(Path, file), content);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
