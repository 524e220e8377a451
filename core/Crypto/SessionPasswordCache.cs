using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Dls.Core.Crypto;

/// <summary>
/// Remembers session-password verifications so the listener pays PBKDF2 (100k iterations, ~tens of ms) once per
/// (code, stored hash, password) rather than on every request. The key holds SHA-256 of the password, never the
/// password; it includes the stored hash, so changing a code's password makes old entries unreachable. Failures
/// are remembered too (a fleet with a wrong password costs one derivation, not one per request), and concurrent
/// first requests for one key share a single derivation. The cache is bounded: when full it starts over.
/// </summary>
public sealed class SessionPasswordCache(int capacity = 10_000)
{
    private readonly ConcurrentDictionary<string, Lazy<bool>> _results = new(StringComparer.Ordinal);

    public bool Verify(string code, string storedHash, string password)
    {
        var digest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        var key = string.Concat(code, "\n", storedHash, "\n", digest);
        if (_results.Count >= capacity)
        {
            _results.Clear();
        }

        return _results.GetOrAdd(key, _ => new Lazy<bool>(() => SessionPasswords.Verify(storedHash, password))).Value;
    }
}
