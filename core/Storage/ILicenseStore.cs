using Dls.Core.Licensing;

namespace Dls.Core.Storage;

/// <summary>
/// The licenses aggregate: imported licenses, their items (and revocations) and the trusted issuers. Every method
/// runs in the caller's <see cref="UnitOfWork"/>.
/// </summary>
/// <summary>A trusted issuer as stored: its key id, name, public key (DER) and when it was added.</summary>
internal sealed record StoredIssuer(string KeyId, string Name, byte[] PublicKey, DateTimeOffset AddedAt);

/// <summary>An imported license as stored (its items are read separately).</summary>
internal sealed record StoredLicense(
    string LicenseId, string Alias, string OrganizationId, string ServerUuid, DateTimeOffset IssuedAt, string IssuerKeyId,
    DateTimeOffset ImportedAt, DateTimeOffset UpdatedAt);

internal interface ILicenseStore
{
    LicenseItem? FindItem(UnitOfWork work, string itemId);

    /// <summary>Every item, by expiration date then id.</summary>
    IReadOnlyList<LicenseItem> AllItems(UnitOfWork work);

    /// <summary>Whether some item revokes <paramref name="itemId"/>.</summary>
    bool IsRevokedByAnother(UnitOfWork work, string itemId);

    /// <summary>The licenses (or the one with <paramref name="licenseId"/>), by id.</summary>
    IReadOnlyList<StoredLicense> Licenses(UnitOfWork work, string? licenseId);

    /// <summary>The item ids of a license, nearest expiry first.</summary>
    IReadOnlyList<string> ItemIdsOfLicense(UnitOfWork work, string licenseId);

    /// <summary>The ids of the items that revoke <paramref name="itemId"/>.</summary>
    IReadOnlyList<string> ItemsRevoking(UnitOfWork work, string itemId);

    void SetAlias(UnitOfWork work, string licenseId, string alias, DateTimeOffset now);

    /// <summary>Removes a license and (by cascade) its items and their code links.</summary>
    void RemoveLicense(UnitOfWork work, string licenseId);

    /// <summary>The trusted issuers (or the one with <paramref name="keyId"/>), oldest first.</summary>
    IReadOnlyList<StoredIssuer> Issuers(UnitOfWork work, string? keyId);

    void AddIssuer(UnitOfWork work, StoredIssuer issuer);

    void RemoveIssuer(UnitOfWork work, string keyId);
}
