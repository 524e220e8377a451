using Dls.Core.Audit;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Licensing;

/// <summary>An issuer whose license files this server accepts.</summary>
public sealed record TrustedIssuer(string KeyId, string Name, string PublicKey, DateTime AddedAt);

/// <summary>
/// The server's trusted issuer keys (SPEC §2). Licenses already imported stay when their issuer is removed, still owned
/// by its key id: no other issuer can replace or revoke them, and the same key added again can (docs/licensing.md).
/// </summary>
public sealed class TrustedIssuerService(DlsStore store, TimeProvider time)
{
    public const int MaxNameLength = 128;

    /// <summary>
    /// Trusts a P-256 public key (PEM or base64 DER). Adding a key that is already trusted under the same name
    /// changes nothing; under another name it is refused (<c>IssuerAlreadyTrusted</c>).
    /// </summary>
    public TrustedIssuer Add(string name, string publicKey)
    {
        ValidateName(name);
        var der = EcKeys.ParsePublicKey(publicKey);
        var keyId = EcKeys.KeyId(der);
        return store.Write(work =>
        {
            var existing = Find(work, keyId);
            if (existing is not null)
            {
                return existing.Name == name ? existing : throw new DlsException(
                    ErrorIds.IssuerAlreadyTrusted,
                    DlsErrorKind.AlreadyExists,
                    $"The issuer key {keyId} is already trusted as '{existing.Name}'.",
                    keyId);
            }

            var now = time.GetUtcNow();
            work.Stores.Licenses.AddIssuer(work, new StoredIssuer(keyId, name, der, now));
            AuditLog.Write(work, now, "Issuer.Add", keyId, $"name={name}");
            return Find(work, keyId)!;
        });
    }

    public IReadOnlyList<TrustedIssuer> List() => store.Query(work => Query(work, null));

    public TrustedIssuer? Find(string keyId) => store.Query(work => Find(work, keyId));

    /// <summary>Stops trusting a key; <c>IssuerNotFound</c> when it is not trusted.</summary>
    public TrustedIssuer Remove(string keyId) => store.Write(work =>
    {
        var existing = Find(work, keyId) ?? throw NotFound(keyId);
        work.Stores.Licenses.RemoveIssuer(work, keyId);
        AuditLog.Write(work, time.GetUtcNow(), "Issuer.Remove", keyId, $"name={existing.Name}");
        return existing;
    });

    /// <summary>The public key DER of a trusted key id, or null.</summary>
    public static byte[]? PublicKeyOf(UnitOfWork work, string keyId) => work.Stores.Licenses.Issuers(work, keyId).FirstOrDefault()?.PublicKey;

    public static DlsException NotFound(string keyId) =>
        new(ErrorIds.IssuerNotFound, DlsErrorKind.NotFound, $"No trusted issuer has the key id '{keyId}'.", keyId);

    private static void ValidateName(string name)
    {
        if (name.Trim().Length == 0 || name.Length > MaxNameLength || name.Any(char.IsControl))
        {
            throw new DlsException(ErrorIds.IssuerNameInvalid, DlsErrorKind.InvalidArgument, $"The issuer name must be 1 to {MaxNameLength} characters without control characters.", name);
        }
    }

    private static TrustedIssuer? Find(UnitOfWork work, string keyId) => Query(work, keyId).FirstOrDefault();

    private static List<TrustedIssuer> Query(UnitOfWork work, string? keyId) =>
        work.Stores.Licenses.Issuers(work, keyId)
            .Select(i => new TrustedIssuer(i.KeyId, i.Name, EcKeys.PublicKeyPem(i.PublicKey), i.AddedAt.UtcDateTime))
            .ToList();
}
