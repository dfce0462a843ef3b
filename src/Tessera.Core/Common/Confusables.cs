using System.Globalization;
using System.Text;

namespace Tessera.Core.Common;

/// <summary>
/// Tells names apart the way a reader does: two names that look alike (a Cyrillic "а" for a Latin "a", a dotless
/// "ı" for an "i", "rn" for "m", a zero-width space anywhere) have the same <see cref="Skeleton"/>.
/// </summary>
/// <remarks>
/// The rule is the skeleton of Unicode Technical Standard #39, section 4, with the data of its confusables.txt
/// (version 15.0.0, embedded; see confusables.NOTICE.txt): decompose (NFD), drop default-ignorable code points,
/// replace every character by its prototype, decompose again. It starts from the compatibility form (NFKC), as
/// UTS #39 assumes of identifiers, since the data leaves out characters that NFKC already maps (fullwidth "Ｆ").
/// Tessera's names are unique ignoring case, so the
/// skeleton is taken of the lower-cased name and lower-cased again, repeated until it no longer changes: the
/// prototypes include capitals ("0" becomes "O") whose lower case may itself have a prototype. The price of
/// folding case first: "I" and "l" (which look alike only in some fonts and only as a capital) stay apart.
/// A skeleton is a key for comparison, never shown: "m" becomes "rn".
/// </remarks>
public static class Confusables
{
    public const string ResourceName = "Tessera.Core.confusables.txt";

    /// <summary>Enough rounds for any name: each round can only replace a capital prototype by its lower case.</summary>
    private const int MaxRounds = 4;

    private static readonly Lazy<Dictionary<int, string>> Prototypes = new(Load);

    /// <summary>How many characters have a prototype (about 6,300).</summary>
    public static int Count => Prototypes.Value.Count;

    /// <summary>
    /// The comparison key of a name: equal for names that a reader may take for one another. Surrounding white
    /// space does not count. A string that Unicode cannot normalise (a lone surrogate) is compared as it is.
    /// </summary>
    public static string Skeleton(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var current = Normalize(value.Trim(), NormalizationForm.FormKC).ToLowerInvariant();
        for (var round = 0; round < MaxRounds; round++)
        {
            var next = Map(current).ToLowerInvariant();
            if (next == current)
            {
                break;
            }

            current = next;
        }

        return current;
    }

    /// <summary>Whether two names look alike (their skeletons are equal).</summary>
    public static bool AreConfusable(string a, string b) => Skeleton(a) == Skeleton(b);

    /// <summary>One pass of the UTS #39 skeleton: NFD, drop ignorables, prototypes, NFD.</summary>
    private static string Map(string value)
    {
        var decomposed = Normalize(value, NormalizationForm.FormD);
        var prototypes = Prototypes.Value;
        var builder = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
        {
            if (IsDefaultIgnorable(rune.Value))
            {
                continue;
            }

            if (prototypes.TryGetValue(rune.Value, out var prototype))
            {
                builder.Append(prototype);
            }
            else
            {
                builder.Append(rune.ToString());
            }
        }

        return Normalize(builder.ToString(), NormalizationForm.FormD);
    }

    private static string Normalize(string value, NormalizationForm form)
    {
        try
        {
            return value.Normalize(form);
        }
        catch (ArgumentException)
        {
            return value;
        }
    }

    /// <summary>
    /// Default_Ignorable_Code_Point of Unicode 15.0 (DerivedCoreProperties.txt): characters that show nothing,
    /// so that "admin" with a zero-width space inside still reads "admin".
    /// </summary>
    public static bool IsDefaultIgnorable(int c) => c switch
    {
        0x00AD or 0x034F or 0x061C or 0x3164 or 0xFEFF or 0xFFA0 => true,
        >= 0x115F and <= 0x1160 => true,
        >= 0x17B4 and <= 0x17B5 => true,
        >= 0x180B and <= 0x180F => true,
        >= 0x200B and <= 0x200F => true,
        >= 0x202A and <= 0x202E => true,
        >= 0x2060 and <= 0x206F => true,
        >= 0xFE00 and <= 0xFE0F => true,
        >= 0xFFF0 and <= 0xFFF8 => true,
        >= 0x1BCA0 and <= 0x1BCA3 => true,
        >= 0x1D173 and <= 0x1D17A => true,
        >= 0xE0000 and <= 0xE0FFF => true,
        _ => false,
    };

    /// <summary>Reads `source ; prototype ; type # comment` lines, code points in hex, into a map.</summary>
    private static Dictionary<int, string> Load()
    {
        using var stream = typeof(Confusables).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from {typeof(Confusables).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var map = new Dictionary<int, string>(6_400);
        while (reader.ReadLine() is { } line)
        {
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            var data = hash >= 0 ? line[..hash] : line;
            var fields = data.Split(';');
            if (fields.Length < 3)
            {
                continue;
            }

            var source = int.Parse(fields[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var prototype = new StringBuilder();
            foreach (var point in fields[1].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                prototype.Append(char.ConvertFromUtf32(int.Parse(point, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            }

            map[source] = prototype.ToString();
        }

        return map;
    }
}
