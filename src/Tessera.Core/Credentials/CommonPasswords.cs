namespace Tessera.Core.Credentials;

/// <summary>Tells whether a password is one that attackers try first.</summary>
public interface ICommonPasswords
{
    bool Contains(string password);
}

/// <summary>
/// The 30,000 most common passwords shipped with Tessera (from zxcvbn, MIT; see common-passwords.NOTICE.txt),
/// compared ignoring case.
/// </summary>
public sealed class CommonPasswords : ICommonPasswords
{
    public const string ResourceName = "Tessera.Core.common-passwords.txt";

    // The list is read-only data of the assembly: read once per process, on first use, so that start-up and
    // code that never checks a password do not pay for it. Lazy makes the first read thread-safe.
    private static readonly Lazy<HashSet<string>> List = new(Load);

    /// <summary>How many passwords the list holds.</summary>
    public int Count => List.Value.Count;

    public bool Contains(string password) => password is not null && List.Value.Contains(password);

    private static HashSet<string> Load()
    {
        using var stream = typeof(CommonPasswords).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from {typeof(CommonPasswords).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        var passwords = new HashSet<string>(32_000, StringComparer.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                passwords.Add(line);
            }
        }

        return passwords;
    }
}
