using System.Text.Json;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Tests;
using Dls.Core.Usage;

// usage: UsageSeed <store path> <facts.json>
// facts.json: {"usage": [{"slice", "handshakeCode", "itemId", "clientUuid", "instanceId"?, "count", "features"?}],
//              "authorizations": [{"time", "handshakeCode", "itemId", "clientUuid", "errorCode"}]}
// Writes every fact through UsageStatistics in one transaction, exactly as the listener records them, at any date:
// the listener itself takes reports up to 30 days old, and these facts reach back to months long past.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: UsageSeed <store path> <facts.json>");
    return 2;
}

var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
var facts = JsonSerializer.Deserialize<SeedFacts>(File.ReadAllText(args[1]), options) ?? throw new InvalidDataException("empty facts file");
var store = DlsStore.Open(args[0]);

// Items and codes as an import would leave them, so the report has quotas to show.
foreach (var item in facts.Items ?? [])
{
    TestCatalog.AddItem(store, item.ItemId, Enum.Parse<LicenseMode>(item.Mode), item.Quantity, new DateOnly(2024, 1, 1), new DateOnly(2030, 12, 31),
        product: item.Product, licenseId: "seed");
}

foreach (var code in facts.Codes ?? [])
{
    TestCatalog.AddCode(store, code.Code, code.ItemIds);
}

store.Write((connection, transaction) =>
{
    UsageStatistics.RecordUsage(connection, transaction, (facts.Usage ?? []).Select(u =>
        new UsageFact(u.Slice, u.Slice, u.HandshakeCode, u.ItemId, u.ClientUuid, u.InstanceId ?? string.Empty, u.Count, u.Features)));
    UsageStatistics.RecordAuthorizations(connection, transaction, (facts.Authorizations ?? []).Select(a =>
        new AuthorizationFact(a.Time, a.HandshakeCode, a.ItemId, a.ClientUuid, a.ErrorCode)));
});
Console.WriteLine($"{facts.Usage?.Count ?? 0} usage facts, {facts.Authorizations?.Count ?? 0} authorizations written");
return 0;

internal sealed record SeedFacts(List<SeedItem>? Items, List<SeedCode>? Codes, List<SeedUsage>? Usage, List<SeedAuthorization>? Authorizations);

internal sealed record SeedItem(string ItemId, string Product, string Mode, long Quantity);

internal sealed record SeedCode(string Code, List<string> ItemIds);

internal sealed record SeedUsage(DateTimeOffset Slice, string HandshakeCode, string ItemId, string ClientUuid, string? InstanceId, long Count, Dictionary<string, long>? Features);

internal sealed record SeedAuthorization(DateTimeOffset Time, string HandshakeCode, string ItemId, string ClientUuid, int ErrorCode);
