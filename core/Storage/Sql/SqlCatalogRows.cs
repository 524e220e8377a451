using System.Globalization;
using Dls.Core.Licensing;
using System.Data.Common;

namespace Dls.Core.Storage.Sql;

/// <summary>How license items and handshake codes are spelled in the store's rows, shared by the code and license stores.</summary>
internal static class SqlCatalogRows
{
    public const string ItemColumns =
        "i.item_id, i.license_id, i.product, i.version, i.deployment, i.edition, i.mode, i.quantity, i.start_date, i.expiration_date, i.modules, i.revokes";

    public const string CodeColumns =
        "c.code, c.organization_id, c.name, c.is_default, c.enabled, c.description, c.allowed_domains, c.allowed_app_ids, c.allowed_process_names, c.created_at, c.updated_at, c.password_hash";

    public static List<LicenseItem> Items(SqlUnitOfWork work, string sql, string? parameter)
    {
        var command = work.Command(sql);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue("$p", parameter);
        }

        using var reader = command.ExecuteReader();
        var items = new List<LicenseItem>();
        while (reader.Read())
        {
            items.Add(Item(reader));
        }

        return items;
    }

    public static LicenseItem Item(DbDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        Enum.Parse<Deployment>(reader.GetString(4)),
        reader.GetString(5),
        Enum.Parse<LicenseMode>(reader.GetString(6)),
        reader.GetInt64(7),
        DateOnly.ParseExact(reader.GetString(8), "yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateOnly.ParseExact(reader.GetString(9), "yyyy-MM-dd", CultureInfo.InvariantCulture),
        LicenseCatalog.ReadList(reader.GetString(10)),
        reader.IsDBNull(11) ? null : reader.GetString(11));
}
