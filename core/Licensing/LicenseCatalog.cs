using System.Text.Json;
using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using System.Data.Common;

namespace Dls.Core.Licensing;

/// <summary>
/// Reads licenses, items and handshake codes (through the code and license stores). Every method takes the
/// caller's unit of work so the listener's decisions and the cmdlets' changes read one consistent state.
/// </summary>
public static class LicenseCatalog
{
    public static HandshakeCode? FindCode(UnitOfWork work, string code) => work.Stores.Codes.FindCode(work, code);

    /// <summary>The organization's default code, enabled or not (a disabled default serves no one).</summary>
    public static HandshakeCode? FindDefaultCode(UnitOfWork work, string organizationId) => work.Stores.Codes.FindDefaultCode(work, organizationId);

    public static IReadOnlyList<HandshakeCode> AllCodes(UnitOfWork work) => work.Stores.Codes.AllCodes(work);

    /// <summary>The items of a code in its consumption order.</summary>
    public static IReadOnlyList<LicenseItem> ItemsOfCode(UnitOfWork work, string code) => work.Stores.Codes.ItemsOfCode(work, code);

    public static LicenseItem? FindItem(UnitOfWork work, string itemId) => work.Stores.Licenses.FindItem(work, itemId);

    public static IReadOnlyList<LicenseItem> AllItems(UnitOfWork work) => work.Stores.Licenses.AllItems(work);

    /// <summary>
    /// Whether an item is revoked: some item revokes it, or it is itself a revoking item (SPEC §2: both are
    /// then invalid).
    /// </summary>
    public static bool IsRevoked(UnitOfWork work, LicenseItem item) =>
        item.Revokes is not null || work.Stores.Licenses.IsRevokedByAnother(work, item.ItemId);

    /// <summary>
    /// handshakeUpdateTime (SPEC §7): the last change to the code or any of its items. Clients holding an older
    /// one re-authorize.
    /// </summary>
    public static DateTimeOffset HandshakeUpdateTime(UnitOfWork work, string code) =>
        work.Stores.Codes.LastChange(work, code) ?? DateTimeOffset.MinValue;

    // For code not yet moved onto units of work: the same reads on a connection the caller owns.
    public static HandshakeCode? FindCode(DbConnection connection, DbTransaction? transaction, string code) =>
        Borrowed(connection, transaction, work => FindCode(work, code));

    public static HandshakeCode? FindDefaultCode(DbConnection connection, DbTransaction? transaction, string organizationId) =>
        Borrowed(connection, transaction, work => FindDefaultCode(work, organizationId));

    public static LicenseItem? FindItem(DbConnection connection, DbTransaction? transaction, string itemId) =>
        Borrowed(connection, transaction, work => FindItem(work, itemId));

    public static DateTimeOffset HandshakeUpdateTime(DbConnection connection, DbTransaction? transaction, string code) =>
        Borrowed(connection, transaction, work => HandshakeUpdateTime(work, code));

    internal static IReadOnlyList<string> ReadList(string json) => JsonSerializer.Deserialize<string[]>(json) ?? [];

    internal static string WriteList(IEnumerable<string> values) => JsonSerializer.Serialize(values.ToArray());

    private static T Borrowed<T>(DbConnection connection, DbTransaction? transaction, Func<UnitOfWork, T> read)
    {
        using var work = SqlUnitOfWork.Borrow(connection, transaction);
        return read(work);
    }
}
