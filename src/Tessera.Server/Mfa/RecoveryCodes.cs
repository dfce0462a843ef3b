using System.Security.Cryptography;
using System.Text;

namespace Tessera.Server.Mfa;

/// <summary>
/// Ten single-use codes for when the authenticator is lost. Each is 10 characters from a 31-letter alphabet without
/// look-alikes (no 0/O, 1/I/L), so about 49 random bits, shown as two groups of five.
/// </summary>
/// <remarks>
/// Stored as SHA-256, not with the slow password hash: the code is random, not chosen by a person, so there is no
/// dictionary to try; a code is only ever a second factor (the password comes first), used once, voided when the set
/// is regenerated, and wrong codes count toward the lockout. A slow hash would buy nothing against those bounds and
/// would cost a PBKDF2 run per stored code at every check.
/// </remarks>
public static class RecoveryCodes
{
    public const int Count = 10;
    private const string Letters = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

    public static IReadOnlyList<string> Generate()
        => [.. Enumerable.Range(0, Count).Select(_ =>
        {
            var chars = new char[10];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Letters[RandomNumberGenerator.GetInt32(Letters.Length)];
            }

            return new string(chars, 0, 5) + "-" + new string(chars, 5, 5);
        })];

    /// <summary>The code as typed, without separators and case, or null when it cannot be a recovery code.</summary>
    public static string? Normalize(string? typed)
    {
        if (typed is null)
        {
            return null;
        }

        var kept = new string([.. typed.Where(c => c is not ('-' or ' ')).Select(char.ToUpperInvariant)]);
        return kept.Length == 10 && kept.All(c => Letters.Contains(c, StringComparison.Ordinal)) ? kept : null;
    }

    public static string Hash(string normalized) => Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(normalized)));
}
