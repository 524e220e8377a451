using static Dls.Core.Storage.Sqlite.SqliteCatalogRows;

namespace Dls.Core.Storage.Sqlite;

/// <summary>The licenses aggregate on SQLite (tables license, license_item, trusted_issuer).</summary>
internal sealed class SqliteLicenseStore : ILicenseStore
{
    public Licensing.LicenseItem? FindItem(UnitOfWork work, string itemId) =>
        Items(SqliteUnitOfWork.Of(work), $"SELECT {ItemColumns} FROM license_item i WHERE i.item_id = $p;", itemId).FirstOrDefault();

    public IReadOnlyList<Licensing.LicenseItem> AllItems(UnitOfWork work) =>
        Items(SqliteUnitOfWork.Of(work), $"SELECT {ItemColumns} FROM license_item i ORDER BY i.expiration_date, i.item_id;", null);

    public bool IsRevokedByAnother(UnitOfWork work, string itemId)
    {
        var command = SqliteUnitOfWork.Of(work).Command("SELECT EXISTS (SELECT 1 FROM license_item WHERE revokes = $id);");
        command.Parameters.AddWithValue("$id", itemId);
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }
}
