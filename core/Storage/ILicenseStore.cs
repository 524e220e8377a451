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

/// <summary>What an import checks a license file against: the stored file's issue time, payload hash and issuer.</summary>
internal sealed record StoredLicenseSource(DateTimeOffset IssuedAt, string PayloadSha256, string IssuerKeyId);

/// <summary>A verified license file as an import writes it (the envelope text as read, its payload's SHA-256).</summary>
internal sealed record ImportedLicense(
    string LicenseId, string Alias, string OrganizationId, string ServerUuid, DateTimeOffset IssuedAt, string IssuerKeyId,
    string PayloadSha256, string Document);

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

    /// <summary>The stored file of a license as an import compares it, or null when the server does not hold it.</summary>
    StoredLicenseSource? Source(UnitOfWork work, string licenseId);

    /// <summary>The stored envelope text of a license (verified when it was imported).</summary>
    string StoredDocument(UnitOfWork work, string licenseId);

    /// <summary>The license holding an item and its issuer key, or null when no license holds it.</summary>
    (string LicenseId, string KeyId)? HolderOfItem(UnitOfWork work, string itemId);

    /// <summary>A license of an issuer other than <paramref name="issuerKeyId"/> with an item that revokes <paramref name="itemId"/>, or null.</summary>
    (string LicenseId, string KeyId)? ForeignRevokerOf(UnitOfWork work, string itemId, string issuerKeyId);

    /// <summary>Adds an imported license (its items are written separately).</summary>
    void AddLicense(UnitOfWork work, ImportedLicense license, DateTimeOffset now);

    /// <summary>
    /// Replaces a license's file with a newer issue. The alias follows the new file only while it is still
    /// <paramref name="oldFileAlias"/>, the one the old file gave: an alias the administrator chose stays.
    /// </summary>
    void ReplaceLicense(UnitOfWork work, ImportedLicense license, string oldFileAlias, DateTimeOffset now);

    /// <summary>Adds an item or overwrites the one with its id.</summary>
    void WriteItem(UnitOfWork work, LicenseItem item, DateTimeOffset now);

    /// <summary>Removes an item (and, by cascade, its code links).</summary>
    void RemoveItem(UnitOfWork work, string itemId);

    void SetAlias(UnitOfWork work, string licenseId, string alias, DateTimeOffset now);

    /// <summary>Removes a license and (by cascade) its items and their code links.</summary>
    void RemoveLicense(UnitOfWork work, string licenseId);

    /// <summary>The trusted issuers (or the one with <paramref name="keyId"/>), oldest first.</summary>
    IReadOnlyList<StoredIssuer> Issuers(UnitOfWork work, string? keyId);

    void AddIssuer(UnitOfWork work, StoredIssuer issuer);

    void RemoveIssuer(UnitOfWork work, string keyId);
}
