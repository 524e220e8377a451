using System.Text.Json;
using Dls.Core.Storage;
using Dls.Core.Usage;

// usage: UsageSeed <store path> <facts.json>
// facts.json: {"usage": [{"slice", "handshakeCode", "itemId", "clientUuid", "instanceId"?, "count", "features"?}],
//              "authorizations": [{"time", "handshakeCode", "itemId", "clientUuid", "errorCode"}]}
// Writes every fact through UsageStatistics in one transaction, exactly as the listener records them.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: UsageSeed <store path> <facts.json>");
    return 2;
}

var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
var facts = JsonSerializer.Deserialize<SeedFacts>(File.ReadAllText(args[1]), options) ?? throw new InvalidDataException("empty facts file");
var store = DlsStore.Open(args[0]);
store.Write((connection, transaction) =>
{
    // Items and codes are inserted as the import cmdlets would leave them, so the report has quotas to show.
    foreach (var item in facts.Items ?? [])
    {
        Execute(connection, transaction, """
            INSERT OR IGNORE INTO license (license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, file_sha256, document, imported_at, updated_at)
            VALUES ('seed', 'seed', '216998', '', '2024-01-01T00:00:00.0000000Z', '', '', '{}', '2024-01-01T00:00:00.0000000Z', '2024-01-01T00:00:00.0000000Z');
            INSERT INTO license_item (item_id, license_id, product, version, deployment, edition, mode, quantity, start_date, expiration_date, updated_at)
            VALUES ($item, 'seed', $product, '10', 'Desktop', '', $mode, $quantity, '2024-01-01', '2030-12-31', '2024-01-01T00:00:00.0000000Z');
            """, ("$item", item.ItemId), ("$product", item.Product), ("$mode", item.Mode), ("$quantity", item.Quantity));
    }

    foreach (var code in facts.Codes ?? [])
    {
        Execute(connection, transaction, """
            INSERT INTO handshake_code (code, organization_id, name, created_at, updated_at)
            VALUES ($code, '216998', $code, '2024-01-01T00:00:00.0000000Z', '2024-01-01T00:00:00.0000000Z');
            """, ("$code", code.Code));
        for (var i = 0; i < code.ItemIds.Count; i++)
        {
            Execute(connection, transaction, "INSERT INTO handshake_code_item (code, item_id, position) VALUES ($code, $item, $position);",
                ("$code", code.Code), ("$item", code.ItemIds[i]), ("$position", i));
        }
    }

    UsageStatistics.RecordUsage(connection, transaction, (facts.Usage ?? []).Select(u =>
        new UsageFact(u.Slice, u.Slice, u.HandshakeCode, u.ItemId, u.ClientUuid, u.InstanceId ?? string.Empty, u.Count, u.Features)));
    UsageStatistics.RecordAuthorizations(connection, transaction, (facts.Authorizations ?? []).Select(a =>
        new AuthorizationFact(a.Time, a.HandshakeCode, a.ItemId, a.ClientUuid, a.ErrorCode)));
});
Console.WriteLine($"{facts.Usage?.Count ?? 0} usage facts, {facts.Authorizations?.Count ?? 0} authorizations written");
return 0;

static void Execute(Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
{
    using var command = connection.CreateCommand();
    command.Transaction = transaction;
    command.CommandText = sql;
    foreach (var (name, value) in parameters)
    {
        command.Parameters.AddWithValue(name, value);
    }

    command.ExecuteNonQuery();
}

internal sealed record SeedFacts(List<SeedItem>? Items, List<SeedCode>? Codes, List<SeedUsage>? Usage, List<SeedAuthorization>? Authorizations);

internal sealed record SeedItem(string ItemId, string Product, string Mode, long Quantity);

internal sealed record SeedCode(string Code, List<string> ItemIds);

internal sealed record SeedUsage(DateTimeOffset Slice, string HandshakeCode, string ItemId, string ClientUuid, string? InstanceId, long Count, Dictionary<string, long>? Features);

internal sealed record SeedAuthorization(DateTimeOffset Time, string HandshakeCode, string ItemId, string ClientUuid, int ErrorCode);
