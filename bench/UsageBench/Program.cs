using System.Diagnostics;
using System.Globalization;
using Dls.Core;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

// dotnet run -c Release --project bench/UsageBench -- [--records 10000000] [--days 90] [--devices 10000] [--items 20] [--store path] [--keep]
// Fills a new store through UsageStatistics.RecordUsage (the listener's own path, in transactions of 50,000 records),
// then times UsageQuery (what Get-DlsUsage runs) for -Interval Day and -Interval Total over the whole period.
var options = Args(args);
var records = long.Parse(options.GetValueOrDefault("records", "10000000"), CultureInfo.InvariantCulture);
var days = int.Parse(options.GetValueOrDefault("days", "90"), CultureInfo.InvariantCulture);
var deviceCount = int.Parse(options.GetValueOrDefault("devices", "10000"), CultureInfo.InvariantCulture);
var itemCount = int.Parse(options.GetValueOrDefault("items", "20"), CultureInfo.InvariantCulture);
var path = options.GetValueOrDefault("store") ?? Path.Combine(Path.GetTempPath(), $"dls-bench-{records}.db");
var fill = !File.Exists(path);

var start = new DateTimeOffset(2026, 8, 1, 0, 0, 0, TimeSpan.Zero);
var end = start.AddDays(days);
var clock = new FixedClock(end.AddHours(12));
var store = DlsStore.OpenOrCreate(path);
new ServerService(store, clock).Initialize("216998", force: false);

if (fill)
{
    // 20 items in 5 codes of 4; items 0 and 1 are also in a second code (shared items).
    var random = new Random(12345);
    var device = Enumerable.Range(0, deviceCount).Select(d =>
    {
        var item = random.Next(itemCount);
        var code = item < 2 && d % 2 == 0 ? 4 : item % 5;
        return (Uuid: Guid.NewGuid().ToString(), Code: $"216998-app{code}", Item: $"item{item:00}", Instances: 1 + (d % 3));
    }).ToArray();
    var perDay = records / days;
    var slicesPerDay = TimeSlice.PerDay;
    var watch = Stopwatch.StartNew();
    long written = 0;
    var batch = new List<UsageFact>(50_000);
    for (var day = 0; day < days; day++)
    {
        var target = day == days - 1 ? records - perDay * (days - 1) : perDay;
        for (long i = 0; i < target; i++)
        {
            // Time-ordered within the day, as reports arrive.
            var slice = start.AddDays(day).AddMinutes(3 * (int)(i * slicesPerDay / target));
            var d = device[random.Next(deviceCount)];
            batch.Add(new UsageFact(slice.AddSeconds(20), slice, d.Code, d.Item, d.Uuid, "p" + random.Next(d.Instances), 1 + random.Next(5),
                i % 10 == 0 ? new Dictionary<string, long> { ["barcode"] = 1 + random.Next(3) } : null));
            if (batch.Count == batch.Capacity)
            {
                Flush(store, batch);
                written += batch.Count;
                batch.Clear();
                if (written % 1_000_000 == 0)
                {
                    Console.WriteLine($"  {written:N0} records, {written / watch.Elapsed.TotalSeconds:N0} records/s");
                }
            }
        }
    }

    Flush(store, batch);
    written += batch.Count;
    Console.WriteLine($"Filled {written:N0} records through UsageStatistics.RecordUsage in {watch.Elapsed.TotalMinutes:N1} min ({written / watch.Elapsed.TotalSeconds:N0} records/s)");
}

Console.WriteLine($"Store: {path} ({new FileInfo(path).Length / 1048576.0:N0} MiB)");
Console.WriteLine($"Raw batches: {Scalar(store, "SELECT count(*) FROM usage_batch"):N0}; roll-up rows: {Scalar(store, "SELECT count(*) FROM usage_rollup"):N0}; device rows: {Scalar(store, "SELECT count(*) FROM usage_device"):N0}");
var query = new UsageQuery(store, clock);
var wholeMonths = new DateTimeOffset(start.Year, start.Month, 1, 0, 0, 0, TimeSpan.Zero);
foreach (var (name, interval, from, to) in new[]
{
    ("Day over the period", UsageInterval.Day, start, end),
    ("Total over the period", UsageInterval.Total, start, end),
    ("Total, whole months", UsageInterval.Total, wholeMonths, wholeMonths.AddMonths((int)Math.Ceiling(days / 30.0))),
})
{
    SqliteConnection.ClearAllPools();
    var cold = Time(() => query.Get(from, to, interval, UsageGrouping.Item, null, null), out var rows);
    var warm = Enumerable.Range(0, 7).Select(_ => Time(() => query.Get(from, to, interval, UsageGrouping.Item, null, null), out IReadOnlyList<UsageRow> _)).Order().ToList();
    var byCode = Enumerable.Range(0, 5).Select(_ => Time(() => query.Get(from, to, interval, UsageGrouping.Code, null, null), out IReadOnlyList<UsageRow> _)).Order().ToList();
    Console.WriteLine($"{name,-22} {from:yyyy-MM-dd}..{to:yyyy-MM-dd} -By Item: {rows.Count,5} rows, cold {cold,7:N1} ms, warm median {warm[3],7:N1} ms; -By Code warm median {byCode[2],7:N1} ms");
}

// Get-DlsDevice on count items (core/Accounting/DeviceService.cs): their devices are the grants, their last contact the
// newest per-device hour row. The fill wrote usage only, so the catalog gets the 20 items (per scan) and every device
// a grant for the item and code it reported through, as the listener would have written them.
if (Scalar(store, "SELECT count(*) FROM license_item") == 0)
{
    for (var i = 0; i < itemCount; i++)
    {
        Dls.Tests.TestCatalog.AddItem(store, $"item{i:00}", Dls.Core.Licensing.LicenseMode.PerScan, 1_000_000_000, new DateOnly(2026, 1, 1), new DateOnly(2027, 12, 31), product: $"P{i:00}");
    }

    store.Write((connection, transaction) =>
    {
        using var grants = connection.CreateCommand();
        grants.Transaction = transaction;
        grants.CommandText = """
            INSERT OR IGNORE INTO client_grant (client_uuid, handshake_code, item_id, first_granted, cache_until)
            SELECT DISTINCT c.client_uuid, d.handshake_code, d.item_id, $first, $until
            FROM usage_device d JOIN usage_client c ON c.id = d.client_id WHERE d.grain = 3;
            """;
        grants.Parameters.AddWithValue("$first", Timestamps.Format(start));
        grants.Parameters.AddWithValue("$until", Timestamps.Format(end.AddDays(7)));
        grants.ExecuteNonQuery();
    });
}

var devices = new Dls.Core.Accounting.DeviceService(store, clock);
SqliteConnection.ClearAllPools();
var listed = 0;
var coldItem = Time(() => { listed = devices.List(null, "item00", null, false).Count; return []; }, out IReadOnlyList<UsageRow> _);
var warmItem = Enumerable.Range(0, 5).Select(_ => Time(() => { devices.List(null, "item00", null, false); return []; }, out IReadOnlyList<UsageRow> _)).Order().ToList();
var all = 0;
var warmAll = Enumerable.Range(0, 3).Select(_ => Time(() => { all = devices.List(null, null, null, false).Count; return []; }, out IReadOnlyList<UsageRow> _)).Order().ToList();
var someone = devices.List(null, "item01", null, false)[0].ClientUuid;
var one = Enumerable.Range(0, 5).Select(_ => Time(() => { devices.List(null, null, someone, false); return []; }, out IReadOnlyList<UsageRow> _)).Order().ToList();
Console.WriteLine($"Get-DlsDevice -ItemId item00 (per scan): {listed:N0} devices, cold {coldItem:N1} ms, warm median {warmItem[2]:N1} ms; " +
    $"every item: {all:N0} devices, warm median {warmAll[1]:N1} ms; -ClientUuid (one device, every item): {one[2]:N1} ms");

return 0;

static void Flush(DlsStore store, List<UsageFact> batch) =>
    store.Write((connection, transaction) => UsageStatistics.RecordUsage(connection, transaction, batch));

static double Time(Func<IReadOnlyList<UsageRow>> run, out IReadOnlyList<UsageRow> rows)
{
    var watch = Stopwatch.StartNew();
    rows = run();
    return watch.Elapsed.TotalMilliseconds;
}

static long Scalar(DlsStore store, string sql) => store.Read(connection =>
{
    using var command = connection.CreateCommand();
    command.CommandText = sql;
    return (long)command.ExecuteScalar()!;
});

static Dictionary<string, string> Args(string[] args)
{
    var result = new Dictionary<string, string>();
    for (var i = 0; i < args.Length; i++)
    {
        if (args[i].StartsWith("--", StringComparison.Ordinal))
        {
            result[args[i][2..]] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
        }
    }

    return result;
}

internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
