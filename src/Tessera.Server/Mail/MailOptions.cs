using System.Globalization;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Tessera.Server.Mail;

/// <summary>`Tessera:Mail`: who mail comes from, how it leaves (SMTP, or files without a host), how often it is retried.</summary>
public sealed class MailOptions
{
    public const string Section = "Tessera:Mail";

    /// <summary>The From header of every message.</summary>
    public string From { get; set; } = "Tessera <no-reply@tessera.invalid>";

    /// <summary>The `{{productName}}` of the templates.</summary>
    public string ProductName { get; set; } = "Tessera";

    public SmtpOptions Smtp { get; set; } = new();

    /// <summary>A folder whose files replace the embedded templates of the same name.</summary>
    public string? TemplatesPath { get; set; }

    /// <summary>Where messages go as .eml files when no SMTP host is set (relative to the working directory).</summary>
    public string OutboxPath { get; set; } = "data/outbox";

    /// <summary>Attempts before a message is marked failed.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The first retry delay; it doubles with each attempt up to <see cref="MaxRetryDelay"/>.</summary>
    public int RetrySeconds { get; set; } = 5;

    /// <summary>How often an idle dispatcher looks for due messages.</summary>
    public int PollSeconds { get; set; } = 2;

    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(10);

    /// <summary>False: file-outbox mode.</summary>
    public bool UsesSmtp => !string.IsNullOrWhiteSpace(Smtp.Host);

    /// <summary>The wait after the given number of failed attempts: RetrySeconds, doubling, capped at ten minutes.</summary>
    public TimeSpan RetryDelay(int attempts)
    {
        var seconds = RetrySeconds * Math.Pow(2, Math.Clamp(attempts - 1, 0, 30));
        return TimeSpan.FromSeconds(Math.Min(seconds, MaxRetryDelay.TotalSeconds));
    }
}

/// <summary>`Tessera:Mail:Smtp`: the relay that Tessera hands mail to.</summary>
public sealed class SmtpOptions
{
    /// <summary>None: mail is written to files instead (see <see cref="MailOptions.OutboxPath"/>).</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = 25;

    public SmtpSecurity Security { get; set; } = SmtpSecurity.StartTls;

    /// <summary>When set, Tessera authenticates; otherwise it sends anonymously.</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>The limit of each SMTP operation (connect, authenticate, send).</summary>
    public int TimeoutSeconds { get; set; } = 30;
}

/// <summary>How the SMTP connection is protected.</summary>
public enum SmtpSecurity
{
    /// <summary>Plain text: only for a relay on a trusted network or loopback.</summary>
    None,

    /// <summary>Plain connect, then STARTTLS; refused if the server does not offer it.</summary>
    StartTls,

    /// <summary>TLS from the first byte (usually port 465).</summary>
    SslOnConnect,
}

/// <summary>Checks `Tessera:Mail` at start, naming the setting that is wrong.</summary>
internal sealed class MailOptionsValidator : IValidateOptions<MailOptions>
{
    public ValidateOptionsResult Validate(string? name, MailOptions options)
    {
        var errors = new List<string>();
        const string S = MailOptions.Section;

        if (string.IsNullOrWhiteSpace(options.From) || !MailboxAddress.TryParse(options.From, out var from) || !from.Address.Contains('@', StringComparison.Ordinal))
        {
            errors.Add($"{S}:From must be an email address such as 'Tessera <no-reply@example.com>'; it is '{options.From}'.");
        }

        if (string.IsNullOrWhiteSpace(options.ProductName))
        {
            errors.Add($"{S}:ProductName must not be empty.");
        }

        Range(errors, $"{S}:MaxAttempts", options.MaxAttempts, 1, 100);
        Range(errors, $"{S}:RetrySeconds", options.RetrySeconds, 1, (int)MailOptions.MaxRetryDelay.TotalSeconds);
        Range(errors, $"{S}:PollSeconds", options.PollSeconds, 1, 300);

        var smtp = options.Smtp;
        if (options.UsesSmtp)
        {
            if (Uri.CheckHostName(smtp.Host!.Trim()) == UriHostNameType.Unknown)
            {
                errors.Add($"{S}:Smtp:Host must be a host name or an IP address; it is '{smtp.Host}'.");
            }

            Range(errors, $"{S}:Smtp:Port", smtp.Port, 1, 65535);
            Range(errors, $"{S}:Smtp:TimeoutSeconds", smtp.TimeoutSeconds, 1, 600);
            if (!Enum.IsDefined(smtp.Security))
            {
                errors.Add($"{S}:Smtp:Security must be None, StartTls or SslOnConnect.");
            }

            if (!string.IsNullOrEmpty(smtp.Password) && string.IsNullOrWhiteSpace(smtp.Username))
            {
                errors.Add($"{S}:Smtp:Password is set without {S}:Smtp:Username.");
            }
        }
        else if (string.IsNullOrWhiteSpace(options.OutboxPath))
        {
            errors.Add($"{S}:OutboxPath must name a folder when {S}:Smtp:Host is not set.");
        }

        if (!string.IsNullOrWhiteSpace(options.TemplatesPath))
        {
            errors.AddRange(MailTemplates.CheckOverrides(options.TemplatesPath));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range(List<string> errors, string setting, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} must be between {min} and {max}; it is {value}."));
        }
    }
}
