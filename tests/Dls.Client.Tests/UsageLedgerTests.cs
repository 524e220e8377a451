using Dls.Client.Internal;

namespace Dls.Client.Tests;

/// <summary>How recorded usage becomes report records: summed per slice and item, split where the wire's bounds require.</summary>
public sealed class UsageLedgerTests
{
    private static readonly DateTimeOffset Slice = new(2026, 12, 3, 10, 57, 0, TimeSpan.Zero);

    [Fact]
    public void Usage_of_one_slice_and_item_is_one_record_with_its_features_summed()
    {
        var ledger = new UsageLedger();
        ledger.Add(Slice, "I-1", "DBR", null, 3, new Dictionary<string, long> { ["qr"] = 2 });
        ledger.Add(Slice, "I-1", "DBR", null, 4, new Dictionary<string, long> { ["qr"] = 1, ["pdf417"] = 4 });
        ledger.Add(Slice.AddMinutes(3), "I-1", "DBR", null, 1, null);

        var records = ledger.Drain();

        Assert.Equal(2, records.Count);
        Assert.Equal((Slice, 7L), (records[0].Slice, records[0].Count));
        Assert.Equal(new Dictionary<string, long> { ["pdf417"] = 4, ["qr"] = 3 }, records[0].Features);
        Assert.Equal((Slice.AddMinutes(3), 1L), (records[1].Slice, records[1].Count));
        Assert.Empty(ledger.Drain());
    }

    [Fact]
    public void A_sum_over_the_wire_bound_or_with_more_than_64_features_spans_several_records_and_loses_nothing()
    {
        var ledger = new UsageLedger();
        var features = Enumerable.Range(0, 70).ToDictionary(i => $"f{i:D2}", i => i == 0 ? 1_500_000_000L : 1L);
        ledger.Add(Slice, "I-1", "DBR", "worker-1", 999_999_999, features);
        ledger.Add(Slice, "I-1", "DBR", "worker-1", 1_000_000_002, null);

        var records = ledger.Drain();

        Assert.All(records, r => Assert.InRange(r.Count, 0, UsageLedger.MaxCount));
        Assert.All(records, r => Assert.True((r.Features?.Count ?? 0) <= UsageLedger.MaxFeatures));
        Assert.All(records, r => Assert.All(r.Features ?? new Dictionary<string, long>(), f => Assert.InRange(f.Value, 0, UsageLedger.MaxCount)));
        Assert.All(records, r => Assert.Equal(("I-1", "worker-1", Slice), (r.ItemId, r.InstanceId, r.Slice)));
        Assert.Equal(2_000_000_001L, records.Sum(r => r.Count));
        var summed = records.SelectMany(r => r.Features ?? new Dictionary<string, long>()).GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.Sum(f => f.Value));
        Assert.Equal(features, summed);
    }

    [Theory]
    [InlineData("2026-12-03T10:59:59.999Z", "2026-12-03T10:57:00Z")]
    [InlineData("2026-12-03T00:00:00Z", "2026-12-03T00:00:00Z")]
    [InlineData("2026-12-03T23:59:59Z", "2026-12-03T23:57:00Z")]
    [InlineData("2026-12-03T12:01:30+02:00", "2026-12-03T10:00:00Z")]
    public void A_time_falls_in_the_3_minute_slice_aligned_to_UTC_midnight(string time, string slice) =>
        Assert.Equal(slice, TimeSlice.Format(TimeSlice.Start(DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture))));
}
