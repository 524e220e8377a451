using Dls.Core.Licensing;

namespace Dls.Core.Storage;

/// <summary>
/// The licenses aggregate: imported licenses, their items (and revocations) and the trusted issuers. Every method
/// runs in the caller's <see cref="UnitOfWork"/>.
/// </summary>
/// <summary>A trusted issuer as stored: its key id, name, public key (DER) and when it was added.</summary>
internal sealed record StoredIssuer(string KeyId, string Name, byte[] PublicKey, DateTimeOffset AddedAt);

internal interface ILicenseStore
{
    LicenseItem? FindItem(UnitOfWork work, string itemId);

    /// <summary>Every item, by expiration date then id.</summary>
    IReadOnlyList<LicenseItem> AllItems(UnitOfWork work);

    /// <summary>Whether some item revokes <paramref name="itemId"/>.</summary>
    bool IsRevokedByAnother(UnitOfWork work, string itemId);

    /// <summary>The trusted issuers (or the one with <paramref name="keyId"/>), oldest first.</summary>
    IReadOnlyList<StoredIssuer> Issuers(UnitOfWork work, string? keyId);

    void AddIssuer(UnitOfWork work, StoredIssuer issuer);

    void RemoveIssuer(UnitOfWork work, string keyId);
}
