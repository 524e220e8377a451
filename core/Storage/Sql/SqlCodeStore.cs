using Dls.Core.Licensing;
using System.Data.Common;
using static Dls.Core.Storage.Sql.SqlCatalogRows;

namespace Dls.Core.Storage.Sql;

/// <summary>The handshake codes aggregate on both engines (tables handshake_code, handshake_code_item).</summary>
internal sealed class SqlCodeStore : ICodeStore
{
    public HandshakeCode? FindCode(UnitOfWork work, string code) =>
        Codes(SqlUnitOfWork.Of(work), $"SELECT {CodeColumns} FROM handshake_code c WHERE c.code = $p;", code).FirstOrDefault();

    public HandshakeCode? FindDefaultCode(UnitOfWork work, string organizationId) =>
        Codes(SqlUnitOfWork.Of(work), $"SELECT {CodeColumns} FROM handshake_code c WHERE c.organization_id = $p AND c.is_default = 1;", organizationId).FirstOrDefault();

    public IReadOnlyList<HandshakeCode> AllCodes(UnitOfWork work) =>
        Codes(SqlUnitOfWork.Of(work), $"SELECT {CodeColumns} FROM handshake_code c ORDER BY c.code;", null);

    public IReadOnlyList<LicenseItem> ItemsOfCode(UnitOfWork work, string code) =>
        Items(SqlUnitOfWork.Of(work), $"SELECT {ItemColumns} FROM handshake_code_item ci JOIN license_item i ON i.item_id = ci.item_id WHERE ci.code = $p ORDER BY ci.position;", code);

    public IReadOnlyDictionary<string, List<string>> CodesOfItems(UnitOfWork work)
    {
        var codesOfItem = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using var reader = SqlUnitOfWork.Of(work).Command("SELECT item_id, code FROM handshake_code_item ORDER BY code;").ExecuteReader();
        while (reader.Read())
        {
            var itemId = reader.GetString(0);
            if (!codesOfItem.TryGetValue(itemId, out var codes))
            {
                codesOfItem[itemId] = codes = [];
            }

            codes.Add(reader.GetString(1));
        }

        return codesOfItem;
    }

    public IReadOnlyList<string> CodesOfItem(UnitOfWork work, string itemId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT code FROM handshake_code_item WHERE item_id = $p ORDER BY code;");
        command.Parameters.AddWithValue("$p", itemId);
        using var reader = command.ExecuteReader();
        var codes = new List<string>();
        while (reader.Read())
        {
            codes.Add(reader.GetString(0));
        }

        return codes;
    }

    public bool OrganizationHasCodes(UnitOfWork work, string organizationId)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT EXISTS (SELECT 1 FROM handshake_code WHERE organization_id = $org);");
        command.Parameters.AddWithValue("$org", organizationId);
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    public void AddCode(UnitOfWork work, string code, string organizationId, string name, bool isDefault, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO handshake_code (code, organization_id, name, is_default, enabled, created_at, updated_at)
            VALUES ($code, $org, $name, $default, 1, $now, $now);
            """);
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$org", organizationId);
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$default", isDefault ? 1 : 0);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void ClearDefault(UnitOfWork work, string organizationId, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("UPDATE handshake_code SET is_default = 0, updated_at = $now WHERE organization_id = $org AND is_default = 1;");
        command.Parameters.AddWithValue("$org", organizationId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void SetSetting(UnitOfWork work, string code, CodeSetting setting, object? value)
    {
        var column = setting switch
        {
            CodeSetting.Enabled => "enabled",
            CodeSetting.IsDefault => "is_default",
            CodeSetting.PasswordHash => "password_hash",
            CodeSetting.Description => "description",
            CodeSetting.AllowedDomains => "allowed_domains",
            CodeSetting.AllowedAppIds => "allowed_app_ids",
            CodeSetting.AllowedProcessNames => "allowed_process_names",
            _ => throw new ArgumentOutOfRangeException(nameof(setting), setting, null),
        };

        // The column name comes from the switch above only, never from input.
        var command = SqlUnitOfWork.Of(work).Command($"UPDATE handshake_code SET {column} = $value WHERE code = $code;");
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$value", value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    public void ReplaceItems(UnitOfWork work, string code, IReadOnlyList<string> itemIds)
    {
        var sqlite = SqlUnitOfWork.Of(work);
        var delete = sqlite.Command("DELETE FROM handshake_code_item WHERE code = $code;");
        delete.Parameters.AddWithValue("$code", code);
        delete.ExecuteNonQuery();

        var insert = sqlite.Command("INSERT INTO handshake_code_item (code, item_id, position) VALUES ($code, $item, $position);");
        var item = insert.Parameters.AddUnset("$item");
        var position = insert.Parameters.AddUnset("$position");
        insert.Parameters.AddWithValue("$code", code);
        for (var i = 0; i < itemIds.Count; i++)
        {
            item.Value = itemIds[i];
            position.Value = i;
            insert.ExecuteNonQuery();
        }
    }

    public void RemoveCode(UnitOfWork work, string code)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM handshake_code WHERE code = $code;");
        command.Parameters.AddWithValue("$code", code);
        command.ExecuteNonQuery();
    }

    public void Touch(UnitOfWork work, string code, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("UPDATE handshake_code SET updated_at = $now WHERE code = $code;");
        command.Parameters.AddWithValue("$code", code);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void TouchCodesOfItemsRevokedBy(UnitOfWork work, string licenseId, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            UPDATE handshake_code SET updated_at = $now WHERE code IN (
                SELECT ci.code FROM handshake_code_item ci JOIN license_item r ON r.revokes = ci.item_id WHERE r.license_id = $id);
            """);
        command.Parameters.AddWithValue("$id", licenseId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public DateTimeOffset? LastChange(UnitOfWork work, string code)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT max(t) FROM (
                SELECT updated_at AS t FROM handshake_code WHERE code = $code
                UNION ALL
                SELECT i.updated_at FROM handshake_code_item ci JOIN license_item i ON i.item_id = ci.item_id WHERE ci.code = $code
                UNION ALL
                SELECT r.updated_at FROM handshake_code_item ci JOIN license_item r ON r.revokes = ci.item_id WHERE ci.code = $code) AS changes;
            """);
        command.Parameters.AddWithValue("$code", code);
        return command.ExecuteScalar() is string text ? Timestamps.Parse(text) : null;
    }

    private static List<HandshakeCode> Codes(SqlUnitOfWork work, string sql, string? parameter)
    {
        var codes = new List<(HandshakeCode Code, string? Hash)>();
        {
            // The reader is done before the item ids of each code are read.
            var command = work.Command(sql);
            if (parameter is not null)
            {
                command.Parameters.AddWithValue("$p", parameter);
            }

            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                codes.Add((new HandshakeCode(
                    reader.GetString(0),
                    reader.GetString(1),
                    reader.GetString(2),
                    [],
                    reader.GetInt64(3) == 1,
                    reader.GetInt64(4) == 1,
                    reader.GetString(5),
                    LicenseCatalog.ReadList(reader.GetString(6)),
                    LicenseCatalog.ReadList(reader.GetString(7)),
                    LicenseCatalog.ReadList(reader.GetString(8)),
                    Timestamps.Parse(reader.GetString(9)).UtcDateTime,
                    Timestamps.Parse(reader.GetString(10)).UtcDateTime), reader.IsDBNull(11) ? null : reader.GetString(11)));
            }
        }

        return codes.Select(c => c.Code with { ItemIds = ItemIdsOf(work, c.Code.Code), PasswordHash = c.Hash }).ToList();
    }

    private static IReadOnlyList<string> ItemIdsOf(SqlUnitOfWork work, string code)
    {
        var command = work.Command("SELECT item_id FROM handshake_code_item WHERE code = $code ORDER BY position;");
        command.Parameters.AddWithValue("$code", code);
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
