using System.Security.Cryptography;
using System.Text;

namespace Dls.Core.Crypto;

/// <summary>
/// Session passwords are kept as a salted slow hash: <c>pbkdf2-sha256$iterations$salt$hash</c> (base64url parts).
/// The clear password is never stored.
/// </summary>
public static class SessionPasswords
{
    /// <summary>OWASP's current advice for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet). Stored hashes carry their own count, so older ones still verify.</summary>
    public const int Iterations = 600_000;
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    public static string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, HashBytes);
        return $"pbkdf2-sha256${Iterations}${Base64Url.Encode(salt)}${Base64Url.Encode(hash)}";
    }

    public static bool Verify(string stored, string password)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], out var iterations) || iterations < 1)
        {
            return false;
        }

        var salt = Base64Url.Decode(parts[2]);
        var expected = Base64Url.Decode(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
