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

    public IReadOnlyList<StoredLicense> Licenses(UnitOfWork work, string? licenseId)
    {
        var command = SqliteUnitOfWork.Of(work).Command("""
            SELECT license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, imported_at, updated_at
            FROM license WHERE $id IS NULL OR license_id = $id ORDER BY license_id;
            """);
        command.Parameters.AddWithValue("$id", (object?)licenseId ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var rows = new List<StoredLicense>();
        while (reader.Read())
        {
            rows.Add(new StoredLicense(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Timestamps.Parse(reader.GetString(4)),
                reader.GetString(5), Timestamps.Parse(reader.GetString(6)), Timestamps.Parse(reader.GetString(7))));
        }

        return rows;
    }

    public IReadOnlyList<string> ItemIdsOfLicense(UnitOfWork work, string licenseId) =>
        Strings(work, "SELECT item_id FROM license_item WHERE license_id = $p ORDER BY expiration_date, start_date, item_id;", licenseId);

    public IReadOnlyList<string> ItemsRevoking(UnitOfWork work, string itemId) =>
        Strings(work, "SELECT item_id FROM license_item WHERE revokes = $p ORDER BY item_id;", itemId);

    public void SetAlias(UnitOfWork work, string licenseId, string alias, DateTimeOffset now)
    {
        var command = SqliteUnitOfWork.Of(work).Command("UPDATE license SET alias = $alias, updated_at = $now WHERE license_id = $id;");
        command.Parameters.AddWithValue("$alias", alias);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$id", licenseId);
        command.ExecuteNonQuery();
    }

    public void RemoveLicense(UnitOfWork work, string licenseId)
    {
        var command = SqliteUnitOfWork.Of(work).Command("DELETE FROM license WHERE license_id = $id;");
        command.Parameters.AddWithValue("$id", licenseId);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredIssuer> Issuers(UnitOfWork work, string? keyId)
    {
        var command = SqliteUnitOfWork.Of(work).Command("SELECT key_id, name, public_key, added_at FROM trusted_issuer WHERE $id IS NULL OR key_id = $id ORDER BY added_at, key_id;");
        command.Parameters.AddWithValue("$id", (object?)keyId ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var issuers = new List<StoredIssuer>();
        while (reader.Read())
        {
            issuers.Add(new StoredIssuer(reader.GetString(0), reader.GetString(1), (byte[])reader.GetValue(2), Timestamps.Parse(reader.GetString(3))));
        }

        return issuers;
    }

    public void AddIssuer(UnitOfWork work, StoredIssuer issuer)
    {
        var command = SqliteUnitOfWork.Of(work).Command("INSERT INTO trusted_issuer (key_id, name, public_key, added_at) VALUES ($id, $name, $key, $now);");
        command.Parameters.AddWithValue("$id", issuer.KeyId);
        command.Parameters.AddWithValue("$name", issuer.Name);
        command.Parameters.AddWithValue("$key", issuer.PublicKey);
        command.Parameters.AddWithValue("$now", Timestamps.Format(issuer.AddedAt));
        command.ExecuteNonQuery();
    }

    public void RemoveIssuer(UnitOfWork work, string keyId)
    {
        var command = SqliteUnitOfWork.Of(work).Command("DELETE FROM trusted_issuer WHERE key_id = $id;");
        command.Parameters.AddWithValue("$id", keyId);
        command.ExecuteNonQuery();
    }

    private static List<string> Strings(UnitOfWork work, string sql, string parameter)
    {
        var command = SqliteUnitOfWork.Of(work).Command(sql);
        command.Parameters.AddWithValue("$p", parameter);
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
