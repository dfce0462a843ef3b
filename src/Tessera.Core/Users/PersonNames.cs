using System.Globalization;

namespace Tessera.Core.Users;

/// <summary>What a person's first or last name may hold.</summary>
public static class PersonNames
{
    /// <summary>
    /// Whether the name holds a control character (NUL, tab, CR, LF and the rest of Unicode's Cc) or a line or
    /// paragraph separator. Names go into the text of emails, where a line break would let a name write lines
    /// of its own ("click here: ..."), and into headers and logs, where it would forge them.
    /// </summary>
    public static bool HasControlCharacters(string? name)
    {
        if (name is null)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return true;
            }
        }

        return false;
    }
}
