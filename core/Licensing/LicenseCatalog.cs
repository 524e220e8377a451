using System.Globalization;
using System.Text.Json;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Licensing;

/// <summary>
/// Reads licenses, items and handshake codes from the store. Every method takes the caller's connection
/// (and transaction, when there is one) so the listener's decisions and the cmdlets' changes read one
/// consistent state.
/// </summary>
public static class LicenseCatalog
{
    private const string ItemColumns =
        "i.item_id, i.license_id, i.product, i.version, i.deployment, i.edition, i.mode, i.quantity, i.start_date, i.expiration_date, i.modules, i.revokes";

    private const string CodeColumns =
        "c.code, c.organization_id, c.name, c.is_default, c.enabled, c.description, c.allowed_domains, c.allowed_app_ids, c.allowed_process_names, c.created_at, c.updated_at, c.password_hash";

    public static HandshakeCode? FindCode(SqliteConnection connection, SqliteTransaction? transaction, string code) =>
        QueryCodes(connection, transaction, $"SELECT {CodeColumns} FROM handshake_code c WHERE c.code = $p;", code).FirstOrDefault();

    /// <summary>The organization's default code, enabled or not (a disabled default serves no one).</summary>
    public static HandshakeCode? FindDefaultCode(SqliteConnection connection, SqliteTransaction? transaction, string organizationId) =>
        QueryCodes(connection, transaction, $"SELECT {CodeColumns} FROM handshake_code c WHERE c.organization_id = $p AND c.is_default = 1;", organizationId).FirstOrDefault();

    public static IReadOnlyList<HandshakeCode> AllCodes(SqliteConnection connection, SqliteTransaction? transaction) =>
        QueryCodes(connection, transaction, $"SELECT {CodeColumns} FROM handshake_code c ORDER BY c.code;", null);

    /// <summary>The items of a code in its consumption order.</summary>
    public static IReadOnlyList<LicenseItem> ItemsOfCode(SqliteConnection connection, SqliteTransaction? transaction, string code) =>
        QueryItems(connection, transaction, $"SELECT {ItemColumns} FROM handshake_code_item ci JOIN license_item i ON i.item_id = ci.item_id WHERE ci.code = $p ORDER BY ci.position;", code);

    public static LicenseItem? FindItem(SqliteConnection connection, SqliteTransaction? transaction, string itemId) =>
        QueryItems(connection, transaction, $"SELECT {ItemColumns} FROM license_item i WHERE i.item_id = $p;", itemId).FirstOrDefault();

    public static IReadOnlyList<LicenseItem> AllItems(SqliteConnection connection, SqliteTransaction? transaction) =>
        QueryItems(connection, transaction, $"SELECT {ItemColumns} FROM license_item i ORDER BY i.expiration_date, i.item_id;", null);

    /// <summary>
    /// Whether an item is revoked: some item revokes it, or it is itself a revoking item (SPEC §2: both are
    /// then invalid).
    /// </summary>
    public static bool IsRevoked(SqliteConnection connection, SqliteTransaction? transaction, LicenseItem item)
    {
        if (item.Revokes is not null)
        {
            return true;
        }

        var command = StatementCache.Get(connection, transaction, "SELECT EXISTS (SELECT 1 FROM license_item WHERE revokes = $id);");
        command.Parameters.AddWithValue("$id", item.ItemId);
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    /// <summary>
    /// handshakeUpdateTime (SPEC §7): the last change to the code or any of its items. Clients holding an older
    /// one re-authorize.
    /// </summary>
    public static DateTimeOffset HandshakeUpdateTime(SqliteConnection connection, SqliteTransaction? transaction, string code)
    {
        var command = StatementCache.Get(connection, transaction, """
            SELECT max(t) FROM (
                SELECT updated_at AS t FROM handshake_code WHERE code = $code
                UNION ALL
                SELECT i.updated_at FROM handshake_code_item ci JOIN license_item i ON i.item_id = ci.item_id WHERE ci.code = $code
                UNION ALL
                SELECT r.updated_at FROM handshake_code_item ci JOIN license_item r ON r.revokes = ci.item_id WHERE ci.code = $code);
            """);
        command.Parameters.AddWithValue("$code", code);
        return command.ExecuteScalar() is string text ? Timestamps.Parse(text) : DateTimeOffset.MinValue;
    }

    internal static IReadOnlyList<string> ReadList(string json) => JsonSerializer.Deserialize<string[]>(json) ?? [];

    internal static string WriteList(IEnumerable<string> values) => JsonSerializer.Serialize(values.ToArray());

    private static List<HandshakeCode> QueryCodes(SqliteConnection connection, SqliteTransaction? transaction, string sql, string? parameter)
    {
        var codes = new List<(HandshakeCode Code, string? Hash)>();
        {
            // The reader is done before the item ids of each code are read.
            var command = StatementCache.Get(connection, transaction, sql);
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
                    ReadList(reader.GetString(6)),
                    ReadList(reader.GetString(7)),
                    ReadList(reader.GetString(8)),
                    Timestamps.Parse(reader.GetString(9)).UtcDateTime,
                    Timestamps.Parse(reader.GetString(10)).UtcDateTime), reader.IsDBNull(11) ? null : reader.GetString(11)));
            }
        }

        return codes.Select(c => c.Code with { ItemIds = ItemIdsOf(connection, transaction, c.Code.Code), PasswordHash = c.Hash }).ToList();
    }

    private static IReadOnlyList<string> ItemIdsOf(SqliteConnection connection, SqliteTransaction? transaction, string code)
    {
        var command = StatementCache.Get(connection, transaction, "SELECT item_id FROM handshake_code_item WHERE code = $code ORDER BY position;");
        command.Parameters.AddWithValue("$code", code);
        using var reader = command.ExecuteReader();
        var ids = new List<string>();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private static List<LicenseItem> QueryItems(SqliteConnection connection, SqliteTransaction? transaction, string sql, string? parameter)
    {
        var command = StatementCache.Get(connection, transaction, sql);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue("$p", parameter);
        }

        using var reader = command.ExecuteReader();
        var items = new List<LicenseItem>();
        while (reader.Read())
        {
            items.Add(new LicenseItem(
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
                ReadList(reader.GetString(10)),
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        }

        return items;
    }
}
