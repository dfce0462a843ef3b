using System.Text;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Tessera.Core.Users;

namespace Tessera.Server.Mail;

/// <summary>A message ready to queue: the subject, the plain-text body and the HTML body.</summary>
public sealed record RenderedMail(string Subject, string Text, string Html);

/// <summary>
/// The emails Tessera sends, each a subject, a text body and an HTML body with `{{placeholder}}`s, in every
/// supported language: English as `invitation.html`, German as `invitation.de.html` (the same placeholders).
/// Defaults are embedded in the assembly (Mail/Templates); a file of the same name in
/// `Tessera:Mail:TemplatesPath` replaces one part of one language. Templates are read once, at first use.
/// </summary>
public sealed partial class MailTemplates
{
    public const string Invitation = "invitation";
    public const string PasswordReset = "password-reset";
    public const string PasswordChanged = "password-changed";
    public const string EmailChanged = "email-changed";
    public const string CredentialExpiring = "credential-expiring";
    public const string ChangeRequest = "change-request";

    /// <summary>Every template Tessera knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [Invitation, PasswordReset, PasswordChanged, EmailChanged, CredentialExpiring, ChangeRequest];

    /// <summary>The file name suffixes of the three parts of a template.</summary>
    internal const string SubjectSuffix = ".subject.txt";
    internal const string TextSuffix = ".txt";
    internal const string HtmlSuffix = ".html";

    private const string ResourcePrefix = "Tessera.Mail.Templates.";
    private const string ProductName = "productName";

    private readonly MailOptions _options;
    private readonly Lazy<IReadOnlyDictionary<(string Name, string Language), Template>> _templates;

    public MailTemplates(IOptions<MailOptions> options)
    {
        _options = options.Value;
        _templates = new Lazy<IReadOnlyDictionary<(string Name, string Language), Template>>(() =>
            Names.SelectMany(n => UserPreferences.Languages.Select(l => (Name: n, Language: l)))
                .ToDictionary(k => k, k => Load(k.Name, k.Language, _options.TemplatesPath)));
    }

    /// <summary>The file name of one part of a template in one language: invitation.html, invitation.de.html.</summary>
    internal static string FileName(string template, string language, string suffix)
        => language == UserPreferences.DefaultLanguage ? template + suffix : $"{template}.{language}{suffix}";

    /// <summary>
    /// Fills the template's placeholders: as they are in the subject (line breaks removed) and the
    /// text, HTML-encoded in the HTML. `{{productName}}` defaults to `Tessera:Mail:ProductName`.
    /// </summary>
    /// <param name="language">One of <see cref="UserPreferences.Languages"/> (see <see cref="MailLanguage.For"/>); English when omitted.</param>
    /// <exception cref="ArgumentException">An unknown template or language, or a placeholder without a value.</exception>
    public RenderedMail Render(string template, IReadOnlyDictionary<string, string> values, string language = UserPreferences.DefaultLanguage)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!Names.Contains(template))
        {
            throw new ArgumentException($"There is no mail template '{template}'; known: {string.Join(", ", Names)}.", nameof(template));
        }

        if (!_templates.Value.TryGetValue((template, language), out var parts))
        {
            throw new ArgumentException($"There is no mail language '{language}'; known: {string.Join(", ", UserPreferences.Languages)}.", nameof(language));
        }

        string Value(string key) => values.TryGetValue(key, out var value) ? value ?? ""
            : key == ProductName ? _options.ProductName
            : throw new ArgumentException($"Mail template '{template}' needs a value for {{{{{key}}}}}.", nameof(values));

        var subject = Placeholder().Replace(parts.Subject, m => Value(m.Groups["name"].Value));
        var text = Placeholder().Replace(parts.Text, m => Value(m.Groups["name"].Value));
        var html = Placeholder().Replace(parts.Html, m => HtmlEncoder.Default.Encode(Value(m.Groups["name"].Value)));
        return new RenderedMail(OneLine(subject), text, html);
    }

    /// <summary>Problems with the override files in <paramref name="templatesPath"/>, as start-up validation messages.</summary>
    internal static IEnumerable<string> CheckOverrides(string templatesPath)
    {
        const string Setting = MailOptions.Section + ":TemplatesPath";
        if (!Directory.Exists(templatesPath))
        {
            yield return $"{Setting} names '{templatesPath}', which is not a folder.";
            yield break;
        }

        var expected = Names
            .SelectMany(n => UserPreferences.Languages.SelectMany(l => new[] { SubjectSuffix, TextSuffix, HtmlSuffix }.Select(suffix => (File: FileName(n, l, suffix), Template: n))))
            .ToDictionary(x => x.File, x => x.Template, StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(templatesPath).Order(StringComparer.Ordinal))
        {
            var file = Path.GetFileName(path);
            if (!expected.TryGetValue(file, out var name))
            {
                if (file.EndsWith(TextSuffix, StringComparison.OrdinalIgnoreCase) || file.EndsWith(HtmlSuffix, StringComparison.OrdinalIgnoreCase))
                {
                    yield return $"{Setting} holds '{file}', which replaces no template; the names are <template>{SubjectSuffix}, <template>{TextSuffix} " +
                                 $"and <template>{HtmlSuffix} (English) or <template>.<language>{SubjectSuffix} and so on, with <template> one of " +
                                 $"{string.Join(", ", Names)} and <language> one of {string.Join(", ", UserPreferences.Languages.Where(l => l != UserPreferences.DefaultLanguage))}.";
                }

                continue;
            }

            var content = File.ReadAllText(path, Encoding.UTF8);
            if (string.IsNullOrWhiteSpace(content))
            {
                yield return $"{Setting}: '{file}' is empty.";
                continue;
            }

            var known = PlaceholdersOf(Load(name, UserPreferences.DefaultLanguage, templatesPath: null));
            known.Add(ProductName);
            var unknown = Placeholder().Matches(content).Select(m => m.Groups["name"].Value).Where(p => !known.Contains(p)).Distinct().ToList();
            if (unknown.Count > 0)
            {
                yield return $"{Setting}: '{file}' uses {string.Join(", ", unknown.Select(p => "{{" + p + "}}"))}, which template '{name}' does not provide; " +
                             $"it provides {string.Join(", ", known.Order(StringComparer.Ordinal).Select(p => "{{" + p + "}}"))}.";
            }
        }
    }

    /// <summary>The placeholders a template uses in one language (each language's embedded default uses the same).</summary>
    internal static HashSet<string> Placeholders(string template, string language) => PlaceholdersOf(Load(template, language, templatesPath: null));

    private static HashSet<string> PlaceholdersOf(Template template) =>
        Placeholder().Matches(template.Subject + template.Text + template.Html).Select(m => m.Groups["name"].Value).ToHashSet(StringComparer.Ordinal);

    private static Template Load(string name, string language, string? templatesPath) => new(
        Read(FileName(name, language, SubjectSuffix), templatesPath).Trim(),
        Read(FileName(name, language, TextSuffix), templatesPath),
        Read(FileName(name, language, HtmlSuffix), templatesPath));

    private static string Read(string file, string? templatesPath)
    {
        if (!string.IsNullOrWhiteSpace(templatesPath))
        {
            var path = Path.Combine(templatesPath, file);
            if (File.Exists(path))
            {
                return File.ReadAllText(path, Encoding.UTF8);
            }
        }

        using var stream = typeof(MailTemplates).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"The embedded mail template {file} is missing from the build.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>A subject is one header line: values must not break it.</summary>
    private static string OneLine(string subject) => Whitespace().Replace(subject, " ").Trim();

    [GeneratedRegex(@"\{\{\s*(?<name>[A-Za-z][A-Za-z0-9_]*)\s*\}\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"[\s\p{Cc}]+")]
    private static partial Regex Whitespace();

    private sealed record Template(string Subject, string Text, string Html);
}
