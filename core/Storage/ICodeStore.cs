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

    /// <summary>Whether the organization has any code, enabled or not.</summary>
    bool OrganizationHasCodes(UnitOfWork work, string organizationId);

    /// <summary>Adds an enabled code without items; its other settings keep their defaults until set.</summary>
    void AddCode(UnitOfWork work, string code, string organizationId, string name, bool isDefault, DateTimeOffset now);

    /// <summary>Makes the organization's default code (if any) an ordinary one, marking it changed.</summary>
    void ClearDefault(UnitOfWork work, string organizationId, DateTimeOffset now);

    /// <summary>Writes one setting of a code (<paramref name="value"/> as <see cref="CodeSetting"/> describes it); does not mark it changed.</summary>
    void SetSetting(UnitOfWork work, string code, CodeSetting setting, object? value);

    /// <summary>Replaces the items of a code with <paramref name="itemIds"/>, in that order; does not mark it changed.</summary>
    void ReplaceItems(UnitOfWork work, string code, IReadOnlyList<string> itemIds);

    /// <summary>Removes a code and its item links (its statistics stay).</summary>
    void RemoveCode(UnitOfWork work, string code);

    /// <summary>Marks the code changed (its clients re-authorize).</summary>
    void Touch(UnitOfWork work, string code, DateTimeOffset now);

    /// <summary>Marks changed every code serving an item that an item of <paramref name="licenseId"/> revokes.</summary>
    void TouchCodesOfItemsRevokedBy(UnitOfWork work, string licenseId, DateTimeOffset now);

    /// <summary>The latest change to the code, its items or the items that revoke them (null when none is known).</summary>
    DateTimeOffset? LastChange(UnitOfWork work, string code);
}
