using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tessera.Server.Tests.BackOffice;

/// <summary>
/// Every Back Office text has its German: each key a page asks of its localizer (`L["…"]`) is in that page's
/// Resources/BackOffice/Pages/&lt;path&gt;.de.resx, and each shared key (`S["…"]` in pages, `Text["…"]` or `text["…"]` in code)
/// is in Resources/BackOffice/SharedText.de.resx. English is the key itself, so a missing entry would show
/// English inside a German page; this test finds it before a user does.
/// </summary>
public partial class LocalizationCoverageTests
{
    private static readonly string Server = Path.Combine(RepositoryRoot(), "src", "Tessera.Server");
    private static readonly string Resources = Path.Combine(Server, "Resources", "BackOffice");

    [GeneratedRegex(""""(?<![\w.])L\[\s*"((?:[^"\\]|\\.)*)"""")]
    private static partial Regex PageKey();

    [GeneratedRegex(""""(?<![\w.])(?:S|Text|text)\[\s*"((?:[^"\\]|\\.)*)"""")]
    private static partial Regex SharedKey();

    public static TheoryData<string> Pages()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Server, "BackOffice", "Pages"), "*.cshtml", SearchOption.AllDirectories).Order())
        {
            var name = Path.GetFileName(file);
            if (name is not "_ViewImports.cshtml" and not "_ViewStart.cshtml")
            {
                data.Add(Path.GetRelativePath(Path.Combine(Server, "BackOffice", "Pages"), file).Replace('\\', '/'));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Every_text_of_a_page_has_its_German(string page)
    {
        var source = File.ReadAllText(Path.Combine(Server, "BackOffice", "Pages", page));
        var keys = PageKey().Matches(source).Select(m => Unescape(m.Groups[1].Value)).Distinct().ToList();
        var resx = Path.Combine(Resources, "Pages", Path.ChangeExtension(page, null) + ".de.resx");
        var german = keys.Count == 0 && !File.Exists(resx) ? [] : Entries(resx);

        var missing = keys.Where(k => !german.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0, $"{resx} lacks: {string.Join(" | ", missing)}");
        var unused = german.Keys.Except(keys).ToList();
        Assert.True(unused.Count == 0, $"{resx} holds keys that {page} never asks for: {string.Join(" | ", unused)}");
        Assert.All(german, e => Assert.False(string.IsNullOrWhiteSpace(e.Value), $"{resx}: '{e.Key}' has no German"));
    }

    [Fact]
    public void Every_shared_text_has_its_German()
    {
        var german = Entries(Path.Combine(Resources, "SharedText.de.resx"));
        var files = Directory.EnumerateFiles(Server, "*.cshtml", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Server, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));
        var missing = new List<string>();
        foreach (var file in files)
        {
            foreach (Match m in SharedKey().Matches(File.ReadAllText(file)))
            {
                var key = Unescape(m.Groups[1].Value);
                if (!german.ContainsKey(key))
                {
                    missing.Add($"{Path.GetFileName(file)}: {key}");
                }
            }
        }

        Assert.True(missing.Count == 0, $"SharedText.de.resx lacks: {string.Join(" | ", missing.Distinct())}");
    }

    [Fact]
    public void Every_resource_file_belongs_to_a_page_or_to_the_shared_texts()
    {
        foreach (var resx in Directory.EnumerateFiles(Resources, "*.resx", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(Resources, resx).Replace('\\', '/');
            if (relative.StartsWith("Pages/", StringComparison.Ordinal))
            {
                var page = Path.Combine(Server, "BackOffice", relative.Replace(".de.resx", ".cshtml"));
                Assert.True(File.Exists(page), $"{relative} has no page {page}");
            }
            else
            {
                Assert.Equal("SharedText.de.resx", relative);
            }
        }
    }

    private static Dictionary<string, string> Entries(string resx)
    {
        Assert.True(File.Exists(resx), $"{resx} is missing");
        var data = XDocument.Load(resx).Root!.Elements("data").ToList();
        // Resource names are unique regardless of case: the build keeps the first of "Failed" and "failed" and drops
        // the other, whose German would then never show.
        var clashes = data.GroupBy(d => (string)d.Attribute("name")!, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(clashes.Count == 0, $"{resx} holds names that differ only in case: {string.Join(" | ", clashes)}");
        return data.ToDictionary(d => (string)d.Attribute("name")!, d => (string?)d.Element("value") ?? "");
    }

    private static string Unescape(string literal) => literal.Replace("\\\"", "\"").Replace("\\\\", "\\");

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Tessera.slnx) was not found above " + AppContext.BaseDirectory);
    }
}
