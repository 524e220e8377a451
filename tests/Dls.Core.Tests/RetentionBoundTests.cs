using System.Data.Common;
using Dls.Core.Storage;
using Dls.Core.Usage;
using static Dls.Core.Tests.UsageFacts;

namespace Dls.Core.Tests;

/// <summary>
/// A steady fleet written through the real write path (<see cref="UsageStatistics"/>) into a real store file, with a
/// 3-day retention purged every night as the listener does: once the retention is reached, every table holds what the
/// retention rule says, day after day, and the file stops growing but for the day and month rows kept for ever and the
/// raw batches, which keep the batch ids for at least 31 days whatever the retention (their bound is tested apart).
/// </summary>
public sealed class RetentionBoundTests : IDisposable
{
    private const int Devices = 50;
    private const int RetentionDays = 3;
    private const string Code = "216998-a";

    // Each device reports in two slices an hour (at :00 and :30).
    private const int SlicesPerDay = 48;

    // Five roll-up keys: (code, I1) and (code, S) at level 0, the code at level 1, each item at level 2.
    private const int RollupKeys = 5;

    // Ten days over the end of February, so that month rows and day device sets are seen going too.
    private static readonly DateTimeOffset First = Utc(2026, 2, 24);

    private readonly TempStore _temp = new();
    private readonly DlsStore _store;
    private readonly UsageRetention _retention;

    public RetentionBoundTests()
    {
        _store = _temp.Initialized();
        _retention = new UsageRetention(_store);
        _retention.SetRetentionDays(RetentionDays, First);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_steady_fleet_stops_growing_once_retention_is_reached()
    {
        var counts = new Dictionary<int, Dictionary<string, long>>();
        var pages = new Dictionary<int, long>();
        for (var n = 1; n <= 10; n++)
        {
            WriteDay(First.AddDays(n - 1));
            _retention.Purge(NightAfter(n));
            if (n is 5 or 7 or 10)
            {
                counts[n] = Counts();
                pages[n] = _store.Engine == StoreEngine.Sqlite ? PageCount() : 0;
                Assert.Equal(Expected(n), counts[n]);
            }
        }

        // What retention bounds holds as much after day 10 as after day 5 (the same days of detail, one month's
        // per-device rows, five days of day device sets), less than after day 7 (two months' rows, seven days of sets).
        foreach (var (table, rows) in counts[10].Where(c => !KeptForEver(c.Key)))
        {
            Assert.True(rows == counts[5][table] && rows <= counts[7][table], $"{table}: {counts[5][table]}, {counts[7][table]}, {rows} rows after days 5, 7, 10");
        }

        // The file: freed pages are reused, so it grows only by the pages the rows kept for ever need. (PostgreSQL's files
        // are its own: autovacuum reuses the space of purged rows, on its own schedule; the row counts above hold there.)
        if (_store.Engine != StoreEngine.Sqlite)
        {
            return;
        }

        var pageSize = _store.Read(c => Scalar(c, "PRAGMA page_size"));
        Assert.True(pages[10] <= pages[7] + Allowance(7, 10, pageSize), $"{pages[7]} pages after day 7, {pages[10]} after day 10, {Allowance(7, 10, pageSize)} allowed");
        Assert.True(pages[10] <= pages[5] + Allowance(5, 10, pageSize), $"{pages[5]} pages after day 5, {pages[10]} after day 10, {Allowance(5, 10, pageSize)} allowed");
    }

    [Fact]
    public void A_purge_leaves_the_answers_inside_the_retention_unchanged()
    {
        for (var n = 1; n <= 4; n++)
        {
            WriteDay(First.AddDays(n - 1));
            _retention.Purge(NightAfter(n));
        }

        WriteDay(First.AddDays(4));
        // The purge after day 5 keeps the days from its cutoff on: ask about them, whole and cut inside an hour.
        var cutoff = First.AddDays(5 - RetentionDays);
        var end = First.AddDays(5);
        var query = new UsageQuery(_store, _temp.Clock);
        var questions = new[] { (cutoff, end), (cutoff.AddHours(7).AddMinutes(13), end.AddHours(-2)) }
            .SelectMany(range => Enum.GetValues<UsageInterval>().SelectMany(interval => Enum.GetValues<UsageGrouping>().Select(by => (range, interval, by))))
            .ToList();
        List<IReadOnlyList<UsageRow>> Answers() => questions.Select(q => query.Get(q.range.Item1, q.range.Item2, q.interval, q.by, null, null)).ToList();

        var before = Answers();
        var purged = _retention.Purge(NightAfter(5));
        var after = Answers();

        Assert.Equal(cutoff, purged.Cutoff);
        Assert.True(purged.AuthorizationEvents > 0 && purged.RollupRows > 0);
        Assert.Equal(before, after);
        var total = Assert.Single(query.Get(cutoff, end, UsageInterval.Total, UsageGrouping.Code, null, null));
        Assert.Equal((RetentionDays * Devices * SlicesPerDay * 3L, (long?)Devices, (long?)(RetentionDays * Devices)), (total.UsageCount, total.Devices, total.Authorizations));
    }

    [Fact]
    public void Ids_of_devices_gone_longer_than_the_retention_are_removed_and_never_given_again()
    {
        // Three devices in January (ids 1, 2, 3); none of them after.
        Write(_store, new[] { "device-a", "device-b", "device-c" }.Select(d => Use(Utc(2026, 1, 10), Code, "I1", d, 1)), []);
        var january = Query().Get(Utc(2026, 1, 1), Utc(2026, 2, 1), UsageInterval.Total, UsageGrouping.Item, null, null);

        // Early February January's month rows are still kept; once January is wholly older than the cut (and the raw
        // batches, kept 31 days for their batch ids, are gone), they go.
        _retention.Purge(Utc(2026, 2, 2, 0, 30));
        Assert.Equal(3L, _store.Read(c => Scalar(c, "SELECT count(*) FROM usage_client")));
        _retention.Purge(Utc(2026, 2, 5, 0, 30));
        Assert.Equal(3L, _store.Read(c => Scalar(c, "SELECT count(*) FROM usage_client")));
        _retention.Purge(Utc(2026, 2, 12, 0, 30));
        // The highest id stays, so that a new device never takes an id January's device set holds.
        Assert.Equal("device-c", _store.Read(c => Text(c, "SELECT min(client_uuid) || '/' || count(*) FROM usage_client")).Replace("/1", string.Empty, StringComparison.Ordinal));
        Write(_store, [Use(Utc(2026, 2, 12), Code, "I1", "device-d", 1)], []);
        Assert.Equal(4L, _store.Read(c => Scalar(c, "SELECT id FROM usage_client WHERE client_uuid = 'device-d'")));

        // January is still counted exactly from its kept month rows and device set.
        Assert.Equal(january, Query().Get(Utc(2026, 1, 1), Utc(2026, 2, 1), UsageInterval.Total, UsageGrouping.Item, null, null));
        Assert.Equal(3L, Assert.Single(january).Devices);

        UsageQuery Query() => new(_store, _temp.Clock);
    }

    [Fact]
    public void Raw_batches_stay_31_days_for_their_batch_ids_under_a_shorter_retention_and_then_go()
    {
        var now = Utc(2026, 3, 15, 0, 30);
        foreach (var daysAgo in new[] { 45, 33, 31.5, 30, 2, 1 })
        {
            var received = now.AddDays(-daysAgo);
            Write(_store, [new UsageFact(received, Dls.Core.Usage.TimeSlice.StartOf(received), Code, "I1", "device-a", string.Empty, 1, null)], []);
        }

        var purged = _retention.Purge(now);

        // Retention 3 days, but a client may send a batch again for 30 days: batches younger than 31 days stay.
        Assert.Equal(3L, purged.UsageRecords);
        Assert.Equal([now.AddDays(-30), now.AddDays(-2), now.AddDays(-1)], RawUsage.Batches(_store).Select(b => b.ReceivedAt));
        Assert.Equal(0L, _retention.Purge(now).UsageRecords);
    }

    [Fact]
    public void A_concurrent_items_slice_counts_go_once_no_report_can_carry_their_slice()
    {
        var now = Utc(2026, 3, 15, 12, 0);
        foreach (var daysAgo in new[] { 40, 32, 30, 1 })
        {
            _store.Write(work => work.Stores.Devices.AddActiveInSlice(work, "C1", now.AddDays(-daysAgo)));
        }

        _retention.Purge(now);
        // A report may carry a slice up to 30 days old: those slices' counts stay, older ones go (as concurrent_slot rows do).
        Assert.Equal(2L, _store.Read(c => Scalar(c, "SELECT count(*) FROM concurrent_slice")));
        Assert.Equal(1L, _store.Query(work => work.Stores.Devices.ActiveInSlice(work, "C1", now.AddDays(-30))));
    }

    private static DateTimeOffset NightAfter(int day) => First.AddDays(day).AddMinutes(30);

    private static string ItemOf(int device) => device % 2 == 0 ? "I1" : "S";

    /// <summary>One simulated day: every device authorizes at midnight and reports twice an hour; one transaction an hour.</summary>
    private void WriteDay(DateTimeOffset day)
    {
        for (var hour = 0; hour < 24; hour++)
        {
            var start = day.AddHours(hour);
            var usage = new List<UsageFact>();
            for (var i = 0; i < Devices; i++)
            {
                foreach (var minute in new[] { 0, 30 })
                {
                    usage.Add(Use(start.AddMinutes(minute), Code, ItemOf(i), $"device-{i:D2}", 3, "p1", ItemOf(i) == "I1" ? new() { ["ocr"] = 1 } : null));
                }
            }

            var authorizations = hour == 0
                ? Enumerable.Range(0, Devices).Select(i => new AuthorizationFact(start.AddSeconds(10), Code, ItemOf(i), $"device-{i:D2}", 0)).ToList()
                : [];
            Write(_store, usage, authorizations);
        }
    }

    private static readonly (string Name, string Sql)[] Tables =
    [
        ("usage_batch", "SELECT count(*) FROM usage_batch"),
        ("auth_event", "SELECT count(*) FROM auth_event"),
        ("usage_client", "SELECT count(*) FROM usage_client"),
        ("usage_instance_seen", "SELECT count(*) FROM usage_instance_seen"),
        .. new[] { "slice", "hour", "day", "month" }.SelectMany((grain, g) => new[]
        {
            ($"usage_device {grain}", $"SELECT count(*) FROM usage_device WHERE grain = {g}"),
            ($"usage_seen {grain}", $"SELECT count(*) FROM usage_seen WHERE grain = {g}"),
            ($"usage_rollup {grain}", $"SELECT count(*) FROM usage_rollup WHERE grain = {g}"),
            ($"usage_feature {grain}", $"SELECT count(*) FROM usage_feature WHERE grain = {g}"),
        }),
        ("usage_device_bits day", "SELECT count(*) FROM usage_device_bits WHERE grain = 2"),
        ("usage_device_bits month", "SELECT count(*) FROM usage_device_bits WHERE grain = 3"),
    ];

    private static bool KeptForEver(string table) =>
        table is "usage_rollup day" or "usage_rollup month" or "usage_feature day" or "usage_feature month" or "usage_device_bits month"
            or "usage_batch"; // for 31 days, longer than this test runs

    private Dictionary<string, long> Counts() =>
        _store.Read(c => Tables.ToDictionary(t => t.Name, t => Scalar(c, t.Sql)));

    private long PageCount() => _store.Read(c => Scalar(c, "PRAGMA page_count"));

    /// <summary>What each table must hold after the purge that follows day <paramref name="n"/>, by the retention rule.</summary>
    private static Dictionary<string, long> Expected(int n)
    {
        var now = NightAfter(n);
        var cutoff = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-RetentionDays);
        var monthCutoff = new DateTimeOffset(cutoff.Year, cutoff.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var days = Enumerable.Range(0, n).Select(d => First.AddDays(d)).ToList();
        long detail = days.Count(d => d >= cutoff);                              // days of slice, hour and per-device day rows
        long raw = days.Count(d => d >= Min(cutoff, now.AddDays(-31)));          // days of raw batches (batch ids: at least 31 days)
        long sets = days.Count(d => d >= monthCutoff);                           // days whose device sets stay with their month
        long months = days.Select(d => (d.Year, d.Month)).Distinct().Count();   // months of roll-ups (kept for ever)
        long deviceMonths = days.Where(d => d >= monthCutoff).Select(d => (d.Year, d.Month)).Distinct().Count();
        return new Dictionary<string, long>
        {
            // A raw batch per record here: each record of this fleet is received on its own.
            ["usage_batch"] = raw * Devices * SlicesPerDay,
            ["auth_event"] = detail * Devices,
            ["usage_client"] = Devices,
            // An instance is first seen in each slice at three levels.
            ["usage_instance_seen"] = 3 * detail * Devices * SlicesPerDay,
            ["usage_device slice"] = detail * Devices * SlicesPerDay,
            ["usage_device hour"] = detail * Devices * 24,
            ["usage_device day"] = detail * Devices,
            ["usage_device month"] = deviceMonths * Devices,
            // Seen rows at the code and item levels.
            ["usage_seen slice"] = 2 * detail * Devices * SlicesPerDay,
            ["usage_seen hour"] = 2 * detail * Devices * 24,
            ["usage_seen day"] = 2 * detail * Devices,
            ["usage_seen month"] = 2 * deviceMonths * Devices,
            ["usage_rollup slice"] = RollupKeys * detail * SlicesPerDay,
            ["usage_rollup hour"] = RollupKeys * detail * 24,
            ["usage_rollup day"] = RollupKeys * n,
            ["usage_rollup month"] = RollupKeys * months,
            // One feature of one code and item.
            ["usage_feature slice"] = detail * SlicesPerDay,
            ["usage_feature hour"] = detail * 24,
            ["usage_feature day"] = n,
            ["usage_feature month"] = months,
            // One chunk of 4096 device ids per set.
            ["usage_device_bits day"] = RollupKeys * sets,
            ["usage_device_bits month"] = RollupKeys * months,
        };
    }

    /// <summary>
    /// The pages the rows kept for ever (and the raw batches, within their 31 days) may take from day <paramref name="from"/>
    /// to day <paramref name="to"/>: their rows at 100 bytes each (roll-up and feature rows are about 50, a batch of one
    /// record with its key about 80) and 600 per month device set (a 512-byte chunk and its
    /// key), plus two pages per table (a leaf split, the rowid table's own key index).
    /// </summary>
    private static long Allowance(int from, int to, long pageSize)
    {
        var a = Expected(from);
        var b = Expected(to);
        long Added(string table) => b[table] - a[table];
        var bytes = (Added("usage_rollup day") + Added("usage_rollup month") + Added("usage_feature day") + Added("usage_feature month") + Added("usage_batch")) * 100
            + (Added("usage_device_bits month") * 600);
        return ((bytes + pageSize - 1) / pageSize) + (3 * 2);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static string Text(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (string)command.ExecuteScalar()!;
    }

    private static long Scalar(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
