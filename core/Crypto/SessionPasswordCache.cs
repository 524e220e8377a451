using System.Security.Cryptography;
using System.Text;

namespace Dls.Core.Crypto;

/// <summary>
/// Remembers session-password verifications so the listener pays PBKDF2 (600,000 iterations, a few hundred ms) once
/// per (code, stored hash, password) rather than on every request. The key holds SHA-256 of the password, never the
/// password; it includes the stored hash, so changing a code's password makes old entries unreachable. Failures
/// are remembered too (a fleet with a wrong password costs one derivation, not one per request), and concurrent
/// first requests for one key share a single derivation. Bounded as a least-recently-used cache: when full, the
/// entry used longest ago goes, so a burst of new (wrong) passwords never empties it of the ones in use.
/// </summary>
public sealed class SessionPasswordCache(int capacity = 10_000)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, LinkedListNode<(string Key, Lazy<bool> Result)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, Lazy<bool> Result)> _recent = new();

    /// <summary>How many verifications are remembered.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public bool Verify(string code, string storedHash, string password)
    {
        var key = Key(code, storedHash, password);
        Lazy<bool> result;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                result = node.Value.Result;
            }
            else
            {
                result = new Lazy<bool>(() => SessionPasswords.Verify(storedHash, password), LazyThreadSafetyMode.ExecutionAndPublication);
                _entries[key] = _recent.AddFirst((key, result));
                if (_entries.Count > capacity)
                {
                    var oldest = _recent.Last!;
                    _recent.RemoveLast();
                    _entries.Remove(oldest.Value.Key);
                }
            }
        }

        // The derivation runs outside the lock: other passwords are looked up meanwhile.
        return result.Value;
    }

    /// <summary>Whether this password's check is remembered (verifying it again costs no derivation).</summary>
    public bool IsCached(string code, string storedHash, string password)
    {
        var key = Key(code, storedHash, password);
        lock (_gate)
        {
            return _entries.TryGetValue(key, out var node) && node.Value.Result.IsValueCreated;
        }
    }

    private static string Key(string code, string storedHash, string password)
    {
        var digest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        return string.Concat(code, "\n", storedHash, "\n", digest);
    }
}
