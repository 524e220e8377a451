using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Usage;
using Dls.Tests;

namespace Dls.Core.Tests;

/// <summary>Raw usage kept per report batch: the blob holds every accepted record as received, and a batch id is remembered with it.</summary>
public sealed class RawUsageBatchTests : IDisposable
{
    private static readonly DateTimeOffset Received = new(2026, 11, 20, 10, 4, 31, TimeSpan.Zero);

    private readonly AuthorityFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void A_batch_reads_back_exactly_as_it_was_written()
    {
        var slice = TimeSlice.StartOf(Received);
        RawUsageRecord[] records =
        [
            new(slice, "SCAN", string.Empty, 3, null),
            new(slice.AddDays(-29), "SCAN", "proc-7", 1_000_000_000_000, new Dictionary<string, long> { ["barcode"] = 2, ["ocr"] = 0 }),
            new(slice, "DEV-ÄÖ-日本", "proc-7", 0, new Dictionary<string, long> { ["barcode"] = long.MaxValue }),
        ];

        var decoded = RawUsageBatch.Decode(Received, RawUsageBatch.Encode(Received, records));

        Assert.Equal(records.Length, decoded.Count);
        for (var i = 0; i < records.Length; i++)
        {
            Assert.Equal((records[i].Slice, records[i].ItemId, records[i].InstanceId, records[i].Count), (decoded[i].Slice, decoded[i].ItemId, decoded[i].InstanceId, decoded[i].Count));
            Assert.Equal(records[i].Features?.OrderBy(f => f.Key), decoded[i].Features?.OrderBy(f => f.Key));
        }

        Assert.Equal(3, RawUsageBatch.RecordCount(RawUsageBatch.Encode(Received, records)));
    }

    [Fact]
    public void Ten_records_of_one_item_take_a_few_bytes_each()
    {
        var slice = TimeSlice.StartOf(Received);
        var records = Enumerable.Range(0, 10).Select(i => new RawUsageRecord(slice, "SCAN-2026", string.Empty, 1 + (i % 3), null)).ToList();
        Assert.InRange(RawUsageBatch.Encode(Received, records).Length, 1, 70);
    }

    [Fact]
    public void A_damaged_blob_is_refused_never_half_read()
    {
        var slice = TimeSlice.StartOf(Received);
        var blob = RawUsageBatch.Encode(Received, [new RawUsageRecord(slice, "SCAN", "i", 5, new Dictionary<string, long> { ["f"] = 1 })]);

        for (var length = 0; length < blob.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => RawUsageBatch.Decode(Received, blob[..length]));
        }

        Assert.Throws<InvalidDataException>(() => RawUsageBatch.Decode(Received, [.. blob, 0]));
        Assert.Throws<InvalidDataException>(() => RawUsageBatch.Decode(Received, [2, .. blob[1..]]));

        // A string index past the table, and a count larger than the blob.
        var badIndex = (byte[])blob.Clone();
        badIndex[^5] = 0x7f;
        Assert.Throws<InvalidDataException>(() => RawUsageBatch.Decode(Received, badIndex));
        Assert.Throws<InvalidDataException>(() => RawUsageBatch.Decode(Received, [1, 0xff, 0xff, 0xff, 0x0f]));
    }

    [Fact]
    public void A_report_keeps_its_accepted_records_raw_in_one_row_and_a_resent_batch_counts_nothing()
    {
        _f.Item("SCAN", LicenseMode.PerScan, 1000, product: "DLR");
        _f.Code("216998-app", "SCAN");
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("dev-1", product: "DLR")).Grant);
        var slice = TimeSlice.StartOf(_f.Now);
        var request = new ReportRequest("dev-1", "216998-app", "batch-1",
        [
            new UsageRecord(slice, "SCAN", "DLR", 4, "p1", new Dictionary<string, long> { ["ocr"] = 2 }),
            new UsageRecord(slice, "NOPE", "DLR", 9, null, null),
            new UsageRecord(slice.AddMinutes(-3), "SCAN", "DLR", 6, null, null),
        ]);

        var first = _f.Report(request).Answer!;
        var again = _f.Report(request).Answer!;

        Assert.Equal((2, 0, 1), (first.Accepted, first.Duplicates, first.Refused));
        Assert.Equal((0, 3), (again.Accepted, again.Duplicates));

        // The batch id decides, whatever the records sent again under it would be today: refused, or out of range.
        var refusedNow = _f.Report(request with { Records = [new UsageRecord(slice, "NOPE", "DLR", 9, null, null)] }).Answer!;
        var malformedNow = _f.Report(request with { Records = [new UsageRecord(slice.AddDays(1), "SCAN", "DLR", 9, null, null)] });
        Assert.Equal((0, 1, 0), (refusedNow.Accepted, refusedNow.Duplicates, refusedNow.Refused));
        Assert.Equal((0, 1), (malformedNow.Answer!.Accepted, malformedNow.Answer.Duplicates));
        Assert.Equal(ErrorCodes.Malformed, _f.Report(request with { BatchId = "batch-2", Records = [new UsageRecord(slice.AddDays(1), "SCAN", "DLR", 9, null, null)] }).Error!.ErrorCode);
        var batch = Assert.Single(RawUsage.Batches(_f.Store));
        Assert.Equal(("dev-1", "216998-app", _f.Now.ToUnixTimeSeconds()), (batch.ClientUuid, batch.HandshakeCode, batch.ReceivedAt.ToUnixTimeSeconds()));
        Assert.Equal([(slice, "SCAN", "p1", 4L), (slice.AddMinutes(-3), "SCAN", string.Empty, 6L)], batch.Records.Select(r => (r.Slice, r.ItemId, r.InstanceId, r.Count)));
        Assert.Equal(10, _f.Measure("SCAN").Used);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_batch_acknowledged_before_the_upgrade_is_still_a_duplicate_after_it()
    {
        _f.Item("SCAN", LicenseMode.PerScan, 1000, product: "DLR");
        _f.Code("216998-app", "SCAN");
        Assert.NotNull(_f.Auth(AuthorityFixture.Request("dev-1", product: "DLR")).Grant);

        // The store as version 81 left it: batch ids in report_batch, no usage_batch.
        _f.Store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                DROP TABLE usage_batch;
                DROP TABLE usage_rollup_mark;
                CREATE TABLE report_batch (client_uuid TEXT NOT NULL, batch_id TEXT NOT NULL, received_at TEXT NOT NULL, records INTEGER NOT NULL,
                                           PRIMARY KEY (client_uuid, batch_id));
                INSERT INTO report_batch VALUES ('dev-1', 'old-1', '2026-11-01T00:00:00.0000000Z', 2), ('dev-2', 'old-1', '2026-11-02T00:00:00.0000000Z', 1);
                """;
            command.ExecuteNonQuery();
            new Storage.Migrations.M0090_UsageBatches().Apply((Microsoft.Data.Sqlite.SqliteConnection)connection, (Microsoft.Data.Sqlite.SqliteTransaction)transaction);
        });

        var slice = TimeSlice.StartOf(_f.Now);
        var old = _f.Report(new ReportRequest("dev-1", "216998-app", "old-1", [new UsageRecord(slice, "SCAN", "DLR", 4, null, null)])).Answer!;
        var fresh = _f.Report(new ReportRequest("dev-1", "216998-app", "new-1", [new UsageRecord(slice, "SCAN", "DLR", 4, null, null)])).Answer!;

        Assert.Equal((0, 1), (old.Accepted, old.Duplicates));
        Assert.Equal((1, 0), (fresh.Accepted, fresh.Duplicates));
        var batches = RawUsage.Batches(_f.Store);
        Assert.Equal([true, true, false], batches.Select(b => b.Legacy));
        Assert.Equal(4, _f.Measure("SCAN").Used);
    }

    [Fact]
    public void Facts_committed_raw_but_not_rolled_up_are_rolled_up_once_by_the_catch_up()
    {
        // Two stores see the same requests: one rolls up as it goes, the other keeps only the raw rows (a listener
        // killed while its roll-ups waited) and is caught up afterwards.
        using var other = new AuthorityFixture();
        var waiting = new StatisticsBuffer();
        var deferred = new LicenseAuthority(new Crypto.SessionPasswordCache(), waiting);
        foreach (var f in new[] { _f, other })
        {
            f.Item("SCAN", LicenseMode.PerScan, 100_000, product: "DLR");
            f.Code("216998-app", "SCAN");
        }

        var slice = TimeSlice.StartOf(_f.Now);
        for (var i = 0; i < 30; i++)
        {
            var client = $"dev-{i % 7}";
            var auth = AuthorityFixture.Request(client, product: "DLR");
            var report = new ReportRequest(client, "216998-app", $"b-{i}",
            [
                new UsageRecord(slice, "SCAN", "DLR", 1 + i, i % 2 == 0 ? "p1" : null, new Dictionary<string, long> { ["ocr"] = i }),
                new UsageRecord(slice.AddMinutes(-3 * (i % 3)), "SCAN", "DLR", 2, null, null),
            ]);
            _f.Auth(auth);
            _f.Report(report);
            other.Store.Write(work => deferred.Authorize(work, auth, other.Now));
            other.Store.Write(work => deferred.Report(work, report, other.Now));
        }

        // 30 authorizations, and 2 facts a report except where both records name one slice, item and instance (5 of them).
        Assert.Equal(30 + 55, waiting.Waiting);
        Assert.NotEqual(Totals(_f), Totals(other));

        Assert.Equal(60, StatisticsBuffer.CatchUp(other.Store));
        Assert.Equal(Totals(_f), Totals(other));
        Assert.Equal(0, StatisticsBuffer.CatchUp(other.Store));
        Assert.Equal(Totals(_f), Totals(other));

        static string Totals(AuthorityFixture f) => string.Join("\n",
            Enum.GetValues<UsageGrouping>().Select(by => string.Join(";", new UsageQuery(f.Store, f.Clock)
                .Get(f.Now.AddDays(-1), f.Now.AddDays(1), UsageInterval.Hour, by, null, null).Select(r => r.ToString()))));
    }
}
