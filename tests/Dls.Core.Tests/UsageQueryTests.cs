using System.Data.Common;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Dls.Core.Usage;
using static Dls.Core.Tests.UsageFacts;

namespace Dls.Core.Tests;

/// <summary>One store of random known facts, written once through UsageStatistics, shared by the checks below.</summary>
public sealed class RandomUsageStore : IDisposable
{
    public RandomUsageStore()
    {
        Temp = new TempStore();
        Store = Temp.Initialized();
        (Usage, Authorizations) = Random(seed: 20261001);
        // In several transactions, as the listener's writer would commit them.
        foreach (var chunk in Usage.Chunk(97))
        {
            Write(Store, chunk, []);
        }

        foreach (var chunk in Authorizations.Chunk(31))
        {
            Write(Store, [], chunk);
        }
    }

    public TempStore Temp { get; }

    public DlsStore Store { get; }

    public List<UsageFact> Usage { get; }

    public List<AuthorizationFact> Authorizations { get; }

    public void Dispose() => Temp.Dispose();
}

public sealed class UsageQueryTests : IClassFixture<RandomUsageStore>
{
    // Whole days over a month boundary; an hour- and slice-misaligned range; a range given in a +05:30 local time.
    private static readonly (DateTimeOffset From, DateTimeOffset To)[] Ranges =
    [
        (Utc(2026, 9, 28), Utc(2026, 10, 4)),
        (Utc(2026, 9, 30, 22, 31, 10), Utc(2026, 10, 1, 1, 4)),
        (new DateTimeOffset(2026, 10, 1, 5, 0, 0, TimeSpan.FromHours(5.5)), new DateTimeOffset(2026, 10, 2, 16, 0, 0, TimeSpan.FromHours(5.5))),
        (Utc(2026, 9, 29, 21, 0), Utc(2026, 9, 29, 21, 3)),
    ];

    private static readonly (string? Code, string? Item)[] Filters =
        [(null, null), ("216998-a", null), (null, "S"), ("216998-b", "S"), ("216998-b", null), (null, "I1")];

    private readonly RandomUsageStore _data;

    public UsageQueryTests(RandomUsageStore data)
    {
        _data = data;
    }

    public static TheoryData<UsageInterval, UsageGrouping> Combinations()
    {
        var data = new TheoryData<UsageInterval, UsageGrouping>();
        foreach (var interval in Enum.GetValues<UsageInterval>())
        {
            foreach (var by in Enum.GetValues<UsageGrouping>())
            {
                data.Add(interval, by);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Every_grouping_and_interval_matches_the_sums_of_the_facts(UsageInterval interval, UsageGrouping by)
    {
        var query = new UsageQuery(_data.Store, _data.Temp.Clock);
        var checkedRows = 0;
        foreach (var (from, to) in Ranges)
        {
            foreach (var (code, item) in Filters)
            {
                var expected = Expected(_data.Usage, _data.Authorizations, from, to, interval, by, code, item);
                var actual = query.Get(from, to, interval, by, code, item);
                Assert.Equal(expected, actual);
                checkedRows += expected.Count;
            }
        }

        Assert.True(checkedRows > 0, "the facts must produce rows to compare");
    }

    [Fact]
    public void A_local_time_range_is_the_same_instant_range_as_in_UTC()
    {
        var query = new UsageQuery(_data.Store, _data.Temp.Clock);
        var local = query.Get(
            new DateTimeOffset(2026, 10, 1, 5, 30, 0, TimeSpan.FromHours(5.5)), new DateTimeOffset(2026, 10, 1, 6, 30, 0, TimeSpan.FromHours(5.5)),
            UsageInterval.Hour, UsageGrouping.Item, null, null);
        var utc = query.Get(Utc(2026, 10, 1), Utc(2026, 10, 1, 1), UsageInterval.Hour, UsageGrouping.Item, null, null);
        Assert.NotEmpty(utc);
        Assert.Equal(utc, local);
        Assert.All(local, row => Assert.Equal(DateTimeKind.Utc, row.PeriodStart.Kind));
        Assert.All(local, row => Assert.Equal(new DateTime(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc), row.PeriodStart));
    }
}

public sealed class UsageRollupTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly DlsStore _store;

    public UsageRollupTests()
    {
        _store = _temp.Initialized();
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_shared_item_shows_only_the_usage_that_came_through_the_code_asked_for()
    {
        var slice = Utc(2026, 10, 5, 9, 0);
        Write(_store, [Use(slice, "216998-a", "S", "c1", 5), Use(slice, "216998-b", "S", "c2", 7), Use(slice, "216998-b", "S", "c1", 1)], []);
        var query = new UsageQuery(_store, _temp.Clock);

        var throughA = Assert.Single(query.Get(Utc(2026, 10, 5), Utc(2026, 10, 6), UsageInterval.Total, UsageGrouping.Item, "216998-a", null));
        Assert.Equal(("216998-a", "S", 5L, 1L), (throughA.HandshakeCode, throughA.ItemId, throughA.UsageCount, throughA.Devices));

        var throughB = Assert.Single(query.Get(Utc(2026, 10, 5), Utc(2026, 10, 6), UsageInterval.Day, UsageGrouping.Item, "216998-b", "S"));
        Assert.Equal((8L, 2L), (throughB.UsageCount, throughB.Devices));

        var everywhere = Assert.Single(query.Get(Utc(2026, 10, 5), Utc(2026, 10, 6), UsageInterval.Total, UsageGrouping.Item, null, null));
        Assert.Null(everywhere.HandshakeCode);
        Assert.Equal((13L, 2L, 2L), (everywhere.UsageCount, everywhere.Devices, everywhere.PeakConcurrent));

        var byCode = query.Get(Utc(2026, 10, 5), Utc(2026, 10, 6), UsageInterval.Total, UsageGrouping.Code, null, null);
        Assert.Equal([("216998-a", 5L, 1L), ("216998-b", 8L, 2L)], byCode.Select(r => (r.HandshakeCode!, r.UsageCount, r.Devices!.Value)));
    }

    [Fact]
    public void By_device_sums_a_device_over_its_codes_and_items_and_leaves_the_code_and_item_columns_empty()
    {
        // c1 reports through two codes, on a shared item and on a second one, over two days and a month edge.
        Write(_store,
            [
                Use(Utc(2026, 9, 30, 23, 57), "216998-a", "S", "c1", 5), Use(Utc(2026, 10, 1, 0, 3), "216998-b", "S", "c1", 7),
                Use(Utc(2026, 10, 2, 8, 0), "216998-b", "T", "c1", 2), Use(Utc(2026, 10, 1, 0, 3), "216998-b", "S", "c2", 4),
            ],
            [new AuthorizationFact(Utc(2026, 10, 1, 0, 1), "216998-a", "S", "c1", 0), new AuthorizationFact(Utc(2026, 10, 1, 0, 2), "216998-b", "S", "c1", 120)]);
        var query = new UsageQuery(_store, _temp.Clock);

        var total = query.Get(Utc(2026, 9, 30, 12), Utc(2026, 10, 3), UsageInterval.Total, UsageGrouping.Device, null, null);
        Assert.Equal(
            [("c1", (string?)null, (string?)null, 14L, 2L, 1L), ("c2", null, null, 4L, 0L, 0L)],
            total.Select(r => (r.ClientUuid!, r.HandshakeCode, r.ItemId, r.UsageCount, r.Authorizations!.Value, r.FailedAuthorizations!.Value)));
        Assert.All(total, r => Assert.Null(r.Devices));

        var daily = query.Get(Utc(2026, 9, 30), Utc(2026, 10, 3), UsageInterval.Day, UsageGrouping.Device, null, null);
        Assert.Equal(
            [(Utc(2026, 9, 30).UtcDateTime, "c1", 5L), (Utc(2026, 10, 1).UtcDateTime, "c1", 7L), (Utc(2026, 10, 1).UtcDateTime, "c2", 4L), (Utc(2026, 10, 2).UtcDateTime, "c1", 2L)],
            daily.Select(r => (r.PeriodStart, r.ClientUuid!, r.UsageCount)));

        // A filter shows in its column, as -By Code shows -ItemId.
        var throughB = query.Get(Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Total, UsageGrouping.Device, "216998-b", null);
        Assert.Equal([("c1", "216998-b", (string?)null, 9L), ("c2", "216998-b", null, 4L)], throughB.Select(r => (r.ClientUuid!, r.HandshakeCode!, r.ItemId, r.UsageCount)));
        var onS = query.Get(Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Month, UsageGrouping.Device, null, "S");
        Assert.Equal([(Utc(2026, 9, 1).UtcDateTime, "c1", 5L), (Utc(2026, 10, 1).UtcDateTime, "c1", 7L), (Utc(2026, 10, 1).UtcDateTime, "c2", 4L)],
            onS.Select(r => (r.PeriodStart, r.ClientUuid!, r.UsageCount)));
        Assert.All(onS, r => Assert.Equal(("S", (string?)null), (r.ItemId!, r.HandshakeCode)));
    }

    [Fact]
    public void Failed_authorizations_are_counted_under_an_empty_code_or_item_when_refused_before_one_was_known()
    {
        var time = Utc(2026, 10, 5, 9, 1, 7);
        Write(_store, [],
        [
            new AuthorizationFact(time, "", "", "c1", 101),
            new AuthorizationFact(time, "216998-a", "", "c2", 104),
            new AuthorizationFact(time, "216998-a", "I1", "c3", 0),
            new AuthorizationFact(time.AddHours(1), "216998-a", "I1", "c4", 120),
        ]);
        var query = new UsageQuery(_store, _temp.Clock);
        var range = (Utc(2026, 10, 5), Utc(2026, 10, 6));

        var byCode = query.Get(range.Item1, range.Item2, UsageInterval.Total, UsageGrouping.Code, null, null);
        Assert.Equal([("", 1L, 1L), ("216998-a", 3L, 2L)], byCode.Select(r => (r.HandshakeCode!, r.Authorizations!.Value, r.FailedAuthorizations!.Value)));

        var byItem = query.Get(range.Item1, range.Item2, UsageInterval.Total, UsageGrouping.Item, null, null);
        Assert.Equal([("", 2L, 2L), ("I1", 2L, 1L)], byItem.Select(r => (r.ItemId!, r.Authorizations!.Value, r.FailedAuthorizations!.Value)));

        var itemsOfA = query.Get(range.Item1, range.Item2, UsageInterval.Hour, UsageGrouping.Item, "216998-a", null);
        Assert.Equal(
            [(Utc(2026, 10, 5, 9).UtcDateTime, "", 1L, 1L), (Utc(2026, 10, 5, 9).UtcDateTime, "I1", 1L, 0L), (Utc(2026, 10, 5, 10).UtcDateTime, "I1", 1L, 1L)],
            itemsOfA.Select(r => (r.PeriodStart, r.ItemId!, r.Authorizations!.Value, r.FailedAuthorizations!.Value)));
        // An authorization alone is no usage: no device counted.
        Assert.All(byCode, r => Assert.Equal(0L, r.Devices));
    }

    [Fact]
    public void From_is_inclusive_and_To_exclusive_at_slice_hour_day_and_month_boundaries()
    {
        var lastSliceOfSeptember = Utc(2026, 9, 30, 23, 57);
        var firstSliceOfOctober = Utc(2026, 10, 1);
        Write(_store, [Use(lastSliceOfSeptember, "216998-a", "I1", "c1", 3), Use(firstSliceOfOctober, "216998-a", "I1", "c1", 4)], []);
        var query = new UsageQuery(_store, _temp.Clock);

        foreach (var interval in Enum.GetValues<UsageInterval>())
        {
            Assert.Equal(3, query.Get(Utc(2026, 9, 1), firstSliceOfOctober, interval, UsageGrouping.Item, null, null).Sum(r => r.UsageCount));
            Assert.Equal(4, query.Get(firstSliceOfOctober, Utc(2026, 11, 1), interval, UsageGrouping.Item, null, null).Sum(r => r.UsageCount));
            Assert.Equal(7, query.Get(lastSliceOfSeptember, firstSliceOfOctober.AddMinutes(3), interval, UsageGrouping.Item, null, null).Sum(r => r.UsageCount));
            // A From one second into a slice leaves that slice out.
            Assert.Equal(4, query.Get(lastSliceOfSeptember.AddSeconds(1), Utc(2026, 11, 1), interval, UsageGrouping.Item, null, null).Sum(r => r.UsageCount));
        }

        var months = query.Get(Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Month, UsageGrouping.Item, null, null);
        Assert.Equal([(Utc(2026, 9, 1).UtcDateTime, 3L), (Utc(2026, 10, 1).UtcDateTime, 4L)], months.Select(r => (r.PeriodStart, r.UsageCount)));
        var total = Assert.Single(query.Get(Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Total, UsageGrouping.Item, null, null));
        Assert.Equal((7L, 1L, Utc(2026, 9, 1).UtcDateTime, Utc(2026, 11, 1).UtcDateTime), (total.UsageCount, total.Devices, total.PeriodStart, total.PeriodEnd));
        var partial = Assert.Single(query.Get(Utc(2026, 9, 30, 12), Utc(2026, 10, 1), UsageInterval.Day, UsageGrouping.Item, null, null));
        Assert.Equal((Utc(2026, 9, 30, 12).UtcDateTime, Utc(2026, 10, 1).UtcDateTime, 3L), (partial.PeriodStart, partial.PeriodEnd, partial.UsageCount));
    }

    [Fact]
    public void Peak_concurrency_is_the_busiest_slice_of_the_period()
    {
        var slice = Utc(2026, 10, 5, 9, 0);
        Write(_store,
        [
            Use(slice, "216998-a", "I1", "c1", 1, "p1"), Use(slice, "216998-a", "I1", "c1", 1, "p2"), Use(slice, "216998-a", "I1", "c2", 1),
            Use(slice.AddMinutes(3), "216998-a", "I1", "c3", 1), Use(slice.AddMinutes(3), "216998-a", "I1", "c3", 2),
            Use(slice.AddDays(1), "216998-a", "I1", "c4", 1),
        ], []);
        var query = new UsageQuery(_store, _temp.Clock);
        var day = Assert.Single(query.Get(Utc(2026, 10, 5), Utc(2026, 10, 6), UsageInterval.Day, UsageGrouping.Code, null, null));
        Assert.Equal((6L, 3L, 2L, 3L), (day.UsageCount, day.Devices, day.PeakConcurrent, day.PeakInstances));
        var total = Assert.Single(query.Get(Utc(2026, 10, 5), Utc(2026, 10, 7), UsageInterval.Total, UsageGrouping.Code, null, null));
        Assert.Equal((7L, 4L, 2L), (total.UsageCount, total.Devices, total.PeakConcurrent));
    }

    [Fact]
    public void The_default_range_is_the_last_30_days_by_day_including_today()
    {
        _temp.Clock.SetUtcNow(Utc(2026, 11, 20, 15, 0));
        Write(_store, [Use(Utc(2026, 10, 21, 23, 57), "216998-a", "I1", "c1", 1), Use(Utc(2026, 10, 22), "216998-a", "I1", "c1", 2), Use(Utc(2026, 11, 20, 14, 0), "216998-a", "I1", "c1", 4)], []);
        var (from, to) = UsageQuery.ResolveRange(null, null, _temp.Clock.GetUtcNow());
        Assert.Equal((Utc(2026, 10, 22), Utc(2026, 11, 21)), (from, to));
        var rows = new UsageQuery(_store, _temp.Clock).Get(null, null, UsageInterval.Day, UsageGrouping.Item, null, null);
        Assert.Equal([2L, 4L], rows.Select(r => r.UsageCount));
    }

    [Fact]
    public void A_range_that_ends_before_it_starts_is_refused()
    {
        var error = Assert.Throws<DlsException>(() => new UsageQuery(_store, _temp.Clock).Get(Utc(2026, 10, 2), Utc(2026, 10, 1), UsageInterval.Day, UsageGrouping.Item, null, null));
        Assert.Equal("UsageRangeInvalid", error.ErrorId);
        Assert.Equal(DlsErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void Purging_keeps_the_day_and_month_rollups_and_refuses_the_per_device_detail_it_removed()
    {
        var (usage, authorizations) = Random(seed: 7);
        Write(_store, usage, authorizations);
        var query = new UsageQuery(_store, _temp.Clock);
        var range = (Utc(2026, 9, 1), Utc(2026, 11, 1));
        var kept = new[] { UsageGrouping.Code, UsageGrouping.Item, UsageGrouping.Feature };
        List<IReadOnlyList<UsageRow>> Answers() => kept
            .SelectMany(by => new[] { UsageInterval.Day, UsageInterval.Month, UsageInterval.Total }.Select(i => query.Get(range.Item1, range.Item2, i, by, null, null)))
            .ToList();
        var before = Answers();
        var octoberByDevice = query.Get(Utc(2026, 10, 1), Utc(2026, 11, 1), UsageInterval.Month, UsageGrouping.Device, null, null);

        var retention = new UsageRetention(_store);
        Assert.Equal(400, retention.GetRetentionDays());
        retention.SetRetentionDays(30, _temp.Clock.GetUtcNow());
        Assert.Equal(30, retention.GetRetentionDays());
        var purged = retention.Purge(Utc(2026, 11, 15, 8, 0));

        Assert.Equal(Utc(2026, 10, 16), purged.Cutoff);
        Assert.Equal(usage.Count, purged.UsageRecords);
        Assert.Equal(authorizations.Count, purged.AuthorizationEvents);
        Assert.True(purged.DeviceRows > 0);
        Assert.True(purged.RollupRows > 0);
        Assert.Equal(0L, _store.Read(c => Count(c, "usage_batch") + Count(c, "auth_event") + Count(c, "usage_device WHERE grain < 3") + Count(c, "usage_rollup WHERE grain < 2")));

        // By code, item and feature, days and months (and totals of whole months) answer as before.
        var after = Answers();
        Assert.Equal(before, after);
        Assert.Equal(before.Sum(rows => rows.Sum(r => r.UsageCount)), after.Sum(rows => rows.Sum(r => r.UsageCount)));

        // Per-device rows of September (a month older than the cutoff) and of the days before the cutoff are gone: asked
        // for, they are refused rather than answered as zeros. October's month rows stay while October is not wholly older.
        foreach (var interval in new[] { UsageInterval.Day, UsageInterval.Month, UsageInterval.Total })
        {
            var error = Assert.Throws<DlsException>(() => query.Get(range.Item1, range.Item2, interval, UsageGrouping.Device, null, null));
            Assert.Equal("UsageDetailPurged", error.ErrorId);
            Assert.Equal(DlsErrorKind.InvalidArgument, error.Kind);
        }

        Assert.Equal(octoberByDevice, query.Get(Utc(2026, 10, 1), Utc(2026, 11, 1), UsageInterval.Month, UsageGrouping.Device, null, null));

        // Facts inside the retention period stay.
        Write(_store, [Use(Utc(2026, 11, 1), "216998-a", "I1", "c1", 1)], []);
        Assert.Equal(0L, retention.Purge(Utc(2026, 11, 15, 8, 0)).UsageRecords);
        Assert.Equal(1, RawUsage.Batches(_store).Sum(b => b.Records.Count));
    }

    [Fact]
    public void After_a_purge_hours_and_ragged_totals_before_the_cutoff_are_refused_and_whole_days_answer()
    {
        var (usage, authorizations) = Random(seed: 11);
        Write(_store, usage, authorizations);
        var query = new UsageQuery(_store, _temp.Clock);
        var days = query.Get(Utc(2026, 9, 29), Utc(2026, 10, 3), UsageInterval.Day, UsageGrouping.Item, null, null);
        var retention = new UsageRetention(_store);
        retention.SetRetentionDays(30, _temp.Clock.GetUtcNow());
        retention.Purge(Utc(2026, 12, 15, 8, 0));

        Assert.Equal(days, query.Get(Utc(2026, 9, 29), Utc(2026, 10, 3), UsageInterval.Day, UsageGrouping.Item, null, null));
        string Refused(Func<object> ask) => Assert.Throws<DlsException>(ask).ErrorId;
        Assert.Equal("UsageDetailPurged", Refused(() => query.Get(Utc(2026, 9, 29), Utc(2026, 10, 3), UsageInterval.Hour, UsageGrouping.Item, null, null)));
        Assert.Equal("UsageDetailPurged", Refused(() => query.Get(Utc(2026, 9, 29, 21, 0), Utc(2026, 10, 3), UsageInterval.Day, UsageGrouping.Code, null, null)));
        // A total from inside September needs September's day device sets, gone once September is older than the cutoff.
        Assert.Equal("UsageDetailPurged", Refused(() => query.Get(Utc(2026, 9, 29), Utc(2026, 10, 3), UsageInterval.Total, UsageGrouping.Code, null, null)));
        // Whole months still count their distinct devices exactly.
        var total = Assert.Single(query.Get(Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Total, UsageGrouping.Code, "216998-a", null));
        var expected = Assert.Single(Expected(usage, authorizations, Utc(2026, 9, 1), Utc(2026, 11, 1), UsageInterval.Total, UsageGrouping.Code, "216998-a", null));
        Assert.Equal(expected, total);
    }

    [Fact]
    public void A_retention_out_of_range_is_refused_and_nothing_changes()
    {
        var retention = new UsageRetention(_store);
        var error = Assert.Throws<DlsException>(() => retention.SetRetentionDays(0, _temp.Clock.GetUtcNow()));
        Assert.Equal("UsageRetentionInvalid", error.ErrorId);
        Assert.Equal(400, retention.GetRetentionDays());
    }

    [Fact]
    public void Rollups_hold_one_row_per_period_and_level_however_many_reports_arrive()
    {
        // Two devices reporting twice in every slice of a day: 1920 raw records, one roll-up row per slice, hour and
        // day (and the month) at each of the three levels.
        var day = Utc(2026, 10, 5);
        Write(_store, Enumerable.Range(0, 1920).Select(i => Use(day.AddMinutes(3 * (i / 4)), "216998-a", "I1", "c" + (i % 2), 1)), []);
        Assert.Equal(3L * (480 + 24 + 1 + 1), _store.Read(c => Count(c, "usage_rollup")));
        var total = Assert.Single(new UsageQuery(_store, _temp.Clock).Get(day, day.AddDays(1), UsageInterval.Total, UsageGrouping.Code, null, null));
        Assert.Equal((1920L, 2L, 2L), (total.UsageCount, total.Devices, total.PeakConcurrent));
    }

    private static long Count(DbConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM " + table;
        return (long)command.ExecuteScalar()!;
    }
}
