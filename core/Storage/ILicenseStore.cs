using Dls.Core.Licensing;

namespace Dls.Core.Storage;

/// <summary>
/// The licenses aggregate: imported licenses, their items (and revocations) and the trusted issuers. Every method
/// runs in the caller's <see cref="UnitOfWork"/>.
/// </summary>
internal interface ILicenseStore
{
    LicenseItem? FindItem(UnitOfWork work, string itemId);

    /// <summary>Every item, by expiration date then id.</summary>
    IReadOnlyList<LicenseItem> AllItems(UnitOfWork work);

    /// <summary>Whether some item revokes <paramref name="itemId"/>.</summary>
    bool IsRevokedByAnother(UnitOfWork work, string itemId);
}
