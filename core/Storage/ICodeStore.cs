using Dls.Core.Licensing;

namespace Dls.Core.Storage;

/// <summary>
/// The handshake codes aggregate: codes, their settings and the ordered items each one serves. Every method runs in
/// the caller's <see cref="UnitOfWork"/>.
/// </summary>
internal interface ICodeStore
{
    HandshakeCode? FindCode(UnitOfWork work, string code);

    /// <summary>The organization's default code, enabled or not (a disabled default serves no one).</summary>
    HandshakeCode? FindDefaultCode(UnitOfWork work, string organizationId);

    /// <summary>Every code, by name.</summary>
    IReadOnlyList<HandshakeCode> AllCodes(UnitOfWork work);

    /// <summary>The items of a code in its consumption order.</summary>
    IReadOnlyList<LicenseItem> ItemsOfCode(UnitOfWork work, string code);

    /// <summary>The codes that serve each item, by item id (codes in name order).</summary>
    IReadOnlyDictionary<string, List<string>> CodesOfItems(UnitOfWork work);

    /// <summary>The codes that serve an item, by name.</summary>
    IReadOnlyList<string> CodesOfItem(UnitOfWork work, string itemId);

    /// <summary>Marks the code changed (its clients re-authorize).</summary>
    void Touch(UnitOfWork work, string code, DateTimeOffset now);

    /// <summary>Marks changed every code serving an item that an item of <paramref name="licenseId"/> revokes.</summary>
    void TouchCodesOfItemsRevokedBy(UnitOfWork work, string licenseId, DateTimeOffset now);

    /// <summary>The latest change to the code, its items or the items that revoke them (null when none is known).</summary>
    DateTimeOffset? LastChange(UnitOfWork work, string code);
}
