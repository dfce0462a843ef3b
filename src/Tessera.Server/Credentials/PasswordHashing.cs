namespace Tessera.Server.Credentials;

/// <summary>PBKDF2 cost of ASP.NET Core Identity's V3 hashes (HMAC-SHA512).</summary>
public static class PasswordHashing
{
    /// <summary>OWASP's Password Storage Cheat Sheet asks for at least 210,000 iterations of PBKDF2-HMAC-SHA512.</summary>
    public const int Iterations = 210_000;
}
