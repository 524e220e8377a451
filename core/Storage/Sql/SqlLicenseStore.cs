using System.Globalization;
using static Dls.Core.Storage.Sql.SqlCatalogRows;

namespace Dls.Core.Storage.Sql;

/// <summary>The licenses aggregate on both engines (tables license, license_item, trusted_issuer).</summary>
internal sealed class SqlLicenseStore : ILicenseStore
{
    public Licensing.LicenseItem? FindItem(UnitOfWork work, string itemId) =>
        Items(SqlUnitOfWork.Of(work), $"SELECT {ItemColumns} FROM license_item i WHERE i.item_id = $p;", itemId).FirstOrDefault();

    public IReadOnlyList<Licensing.LicenseItem> AllItems(UnitOfWork work) =>
        Items(SqlUnitOfWork.Of(work), $"SELECT {ItemColumns} FROM license_item i ORDER BY i.expiration_date, i.item_id;", null);

    public bool IsRevokedByAnother(UnitOfWork work, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT EXISTS (SELECT 1 FROM license_item WHERE revokes = $id);");
        command.Parameters.AddWithValue("$id", itemId);
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    public IReadOnlyList<StoredLicense> Licenses(UnitOfWork work, string? licenseId)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
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

    public StoredLicenseSource? Source(UnitOfWork work, string licenseId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT issued_at, file_sha256, issuer_key_id FROM license WHERE license_id = $id;");
        command.Parameters.AddWithValue("$id", licenseId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredLicenseSource(Timestamps.Parse(reader.GetString(0)), reader.GetString(1), reader.GetString(2)) : null;
    }

    public string StoredDocument(UnitOfWork work, string licenseId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT document FROM license WHERE license_id = $id;");
        command.Parameters.AddWithValue("$id", licenseId);
        return (string)command.ExecuteScalar()!;
    }

    public (string LicenseId, string KeyId)? HolderOfItem(UnitOfWork work, string itemId) =>
        LicenseAndIssuer(work, "SELECT l.license_id, l.issuer_key_id FROM license_item i JOIN license l ON l.license_id = i.license_id WHERE i.item_id = $id;", itemId, null);

    public (string LicenseId, string KeyId)? ForeignRevokerOf(UnitOfWork work, string itemId, string issuerKeyId) =>
        LicenseAndIssuer(work, "SELECT l.license_id, l.issuer_key_id FROM license_item i JOIN license l ON l.license_id = i.license_id WHERE i.revokes = $id AND l.issuer_key_id <> $key LIMIT 1;", itemId, issuerKeyId);

    public void AddLicense(UnitOfWork work, ImportedLicense license, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO license (license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, file_sha256, document, imported_at, updated_at)
            VALUES ($id, $alias, $org, $uuid, $issued, $key, $sha, $document, $now, $now);
            """);
        command.Parameters.AddWithValue("$id", license.LicenseId);
        command.Parameters.AddWithValue("$alias", license.Alias);
        command.Parameters.AddWithValue("$org", license.OrganizationId);
        command.Parameters.AddWithValue("$uuid", license.ServerUuid);
        command.Parameters.AddWithValue("$issued", Timestamps.Format(license.IssuedAt));
        command.Parameters.AddWithValue("$key", license.IssuerKeyId);
        command.Parameters.AddWithValue("$sha", license.PayloadSha256);
        command.Parameters.AddWithValue("$document", license.Document);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void ReplaceLicense(UnitOfWork work, ImportedLicense license, string oldFileAlias, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            UPDATE license SET alias = CASE WHEN alias = $oldAlias THEN $alias ELSE alias END,
                issued_at = $issued, issuer_key_id = $key, file_sha256 = $sha, document = $document, updated_at = $now
            WHERE license_id = $id;
            """);
        command.Parameters.AddWithValue("$id", license.LicenseId);
        command.Parameters.AddWithValue("$oldAlias", oldFileAlias);
        command.Parameters.AddWithValue("$alias", license.Alias);
        command.Parameters.AddWithValue("$issued", Timestamps.Format(license.IssuedAt));
        command.Parameters.AddWithValue("$key", license.IssuerKeyId);
        command.Parameters.AddWithValue("$sha", license.PayloadSha256);
        command.Parameters.AddWithValue("$document", license.Document);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void WriteItem(UnitOfWork work, Licensing.LicenseItem item, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO license_item (item_id, license_id, product, version, deployment, edition, mode, quantity, start_date, expiration_date, modules, revokes, updated_at)
            VALUES ($id, $license, $product, $version, $deployment, $edition, $mode, $quantity, $start, $expiration, $modules, $revokes, $now)
            ON CONFLICT (item_id) DO UPDATE SET product = excluded.product, version = excluded.version, deployment = excluded.deployment,
                edition = excluded.edition, mode = excluded.mode, quantity = excluded.quantity, start_date = excluded.start_date,
                expiration_date = excluded.expiration_date, modules = excluded.modules, revokes = excluded.revokes, updated_at = excluded.updated_at;
            """);
        command.Parameters.AddWithValue("$id", item.ItemId);
        command.Parameters.AddWithValue("$license", item.LicenseId);
        command.Parameters.AddWithValue("$product", item.Product);
        command.Parameters.AddWithValue("$version", item.Version);
        command.Parameters.AddWithValue("$deployment", item.Deployment.ToString());
        command.Parameters.AddWithValue("$edition", item.Edition);
        command.Parameters.AddWithValue("$mode", item.Mode.ToString());
        command.Parameters.AddWithValue("$quantity", item.Quantity);
        command.Parameters.AddWithValue("$start", item.StartDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$expiration", item.ExpirationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$modules", Licensing.LicenseCatalog.WriteList(item.Modules));
        command.Parameters.AddWithValue("$revokes", (object?)item.Revokes ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void RemoveItem(UnitOfWork work, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM license_item WHERE item_id = $id;");
        command.Parameters.AddWithValue("$id", itemId);
        command.ExecuteNonQuery();
    }

    public void SetAlias(UnitOfWork work, string licenseId, string alias, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("UPDATE license SET alias = $alias, updated_at = $now WHERE license_id = $id;");
        command.Parameters.AddWithValue("$alias", alias);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$id", licenseId);
        command.ExecuteNonQuery();
    }

    public void RemoveLicense(UnitOfWork work, string licenseId)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM license WHERE license_id = $id;");
        command.Parameters.AddWithValue("$id", licenseId);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredIssuer> Issuers(UnitOfWork work, string? keyId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT key_id, name, public_key, added_at FROM trusted_issuer WHERE $id IS NULL OR key_id = $id ORDER BY added_at, key_id;");
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
        var command = SqlUnitOfWork.Of(work).Command("INSERT INTO trusted_issuer (key_id, name, public_key, added_at) VALUES ($id, $name, $key, $now);");
        command.Parameters.AddWithValue("$id", issuer.KeyId);
        command.Parameters.AddWithValue("$name", issuer.Name);
        command.Parameters.AddWithValue("$key", issuer.PublicKey);
        command.Parameters.AddWithValue("$now", Timestamps.Format(issuer.AddedAt));
        command.ExecuteNonQuery();
    }

    public void RemoveIssuer(UnitOfWork work, string keyId)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM trusted_issuer WHERE key_id = $id;");
        command.Parameters.AddWithValue("$id", keyId);
        command.ExecuteNonQuery();
    }

    private static (string LicenseId, string KeyId)? LicenseAndIssuer(UnitOfWork work, string sql, string itemId, string? issuerKeyId)
    {
        var command = SqlUnitOfWork.Of(work).Command(sql);
        command.Parameters.AddWithValue("$id", itemId);
        if (issuerKeyId is not null)
        {
            command.Parameters.AddWithValue("$key", issuerKeyId);
        }

        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    private static List<string> Strings(UnitOfWork work, string sql, string parameter)
    {
        var command = SqlUnitOfWork.Of(work).Command(sql);
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
