using Microsoft.Extensions.Time.Testing;
using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>The client against a real listener process: what it records arrives, once, against the item that granted it.</summary>
public sealed class AuthorizeRecordFlushTests
{
    [Fact]
    public async Task Authorize_record_and_flush_the_counts_arrive_once_against_the_granted_item()
    {
        await using var scene = await ClientScene.StartAsync();
        var client = scene.NewClient(out var events);

        var authorization = await client.AuthorizeAsync("DBR", "10.4.2000", DlsDeployment.Desktop);
        Assert.False(authorization.FromCache);
        Assert.Equal(ScanItem, authorization.ItemId);
        Assert.Equal("PerScan", authorization.Mode);
        Assert.Equal(new Uri(scene.Main.Url), authorization.Server);
        Assert.Equal(180, authorization.ReportIntervalSeconds);
        Assert.InRange(authorization.CacheUntil, DateTimeOffset.UtcNow.AddDays(6.9), DateTimeOffset.UtcNow.AddDays(7.1));

        client.Record("DBR", 7);
        client.Record("dbr", 5, new Dictionary<string, long> { ["qr"] = 3, ["pdf417"] = 2 });
        client.Record(ScanItem);
        var flushed = await client.FlushAsync();

        Assert.Equal((1, 0, 0), (flushed.BatchesSent, flushed.Duplicates, flushed.Refused));
        Assert.Equal(0, flushed.BatchesPending);
        Assert.Equal((13L, 13L), scene.Counted(ScanItem));
        Assert.Empty(Directory.GetFiles(Path.Combine(client.CacheFolder, "pending")));

        // Nothing more is sent: a second flush with nothing recorded sends nothing, and the counts stay.
        var again = await client.FlushAsync();
        Assert.Equal(0, again.BatchesSent);
        Assert.Equal((13L, 13L), scene.Counted(ScanItem));
        Assert.Contains(events, e => e.Kind == DlsClientEventKind.Authorized);
        Assert.Single(events, e => e.Kind == DlsClientEventKind.BatchSent);

        // A record of something never authorized is the application's mistake, said at once.
        var notAuthorized = Assert.Throws<InvalidOperationException>(() => client.Record("DWT"));
        Assert.Contains("AuthorizeAsync", notAuthorized.Message);
    }

    [Fact]
    public async Task A_refusal_by_the_server_is_an_exception_with_its_error_code_and_usage_over_the_bound_is_dropped_and_reported_not_resent()
    {
        await using var scene = await ClientScene.StartAsync();
        var client = scene.NewClient(out var events);

        var refused = await Assert.ThrowsAsync<DlsClientException>(() => client.AuthorizeAsync("DWT", "18", DlsDeployment.Desktop));
        Assert.Equal(104, refused.ErrorCode);

        // One device over the server's per-slice bound (100,000 by default): the record is refused (400), the rest counts.
        await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        await client.AuthorizeAsync("DLR", "3", DlsDeployment.Desktop);
        client.Record("DBR", 150_000);
        client.Record("DLR", 4);
        var flushed = await client.FlushAsync();

        Assert.Equal((1, 1), (flushed.BatchesSent, flushed.Refused));
        var report = Assert.Single(events, e => e.Kind == DlsClientEventKind.RecordsRefused);
        var record = Assert.Single(report.RefusedRecords);
        Assert.Equal((ScanItem, 150_000L, 400), (record.ItemId, record.Count, record.ErrorCode));
        Assert.Equal((0L, 0L), scene.Counted(ScanItem));
        Assert.Equal(4L, scene.Counted(DeviceItem).Raw);

        // Dropped, not resent: nothing waits on disk and the next flush sends nothing.
        Assert.Equal(0, client.PendingBatchCount);
        Assert.Equal(0, (await client.FlushAsync()).BatchesSent);
        Assert.Single(events, e => e.Kind == DlsClientEventKind.RecordsRefused);
    }

    [Fact]
    public async Task A_change_of_the_handshake_code_seen_in_a_report_answer_makes_the_client_authorize_again()
    {
        await using var scene = await ClientScene.StartAsync();
        var client = scene.NewClient(out var events);
        var before = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);

        // The administrator changes the code (here: only the process "scanner" may use it), which moves its handshakeUpdateTime.
        await Task.Delay(TimeSpan.FromMilliseconds(20));
        new Dls.Core.Licensing.HandshakeCodeService(scene.Shared.Open(), TimeProvider.System)
            .Set(Code, new Dls.Core.Licensing.HandshakeCodeChanges { AllowedProcessNames = ["scanner"] });

        client.Record("DBR", 2);
        await client.FlushAsync();

        Assert.Contains(events, e => e.Kind == DlsClientEventKind.HandshakeUpdated);
        Assert.Equal(2, events.Count(e => e.Kind == DlsClientEventKind.Authorized));
        var after = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.True(after.HandshakeUpdateTime > before.HandshakeUpdateTime, $"{after.HandshakeUpdateTime:O} is not after {before.HandshakeUpdateTime:O}");
        Assert.False(after.FromCache);
        Assert.Equal((2L, 2L), scene.Counted(ScanItem));
    }

    [Fact]
    public async Task In_the_background_usage_is_reported_every_report_interval_without_a_flush()
    {
        await using var scene = await ClientScene.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var client = scene.NewClient(out var events, clock, options => options.ReportInBackground = true);
        await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        client.Record("DBR", 3);

        // The client's clock moves in 10-second steps until the client seals the usage into a batch: once the interval
        // (180 s, with up to 10 % jitter either way) has passed on it, not before. Then the batch arrives.
        // (The background loop starts its timer on a thread-pool thread: give it a moment, so the steps count from it.)
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        var advanced = TimeSpan.Zero;
        while (!events.Any(e => e.Kind == DlsClientEventKind.BatchStored) && advanced < TimeSpan.FromMinutes(10))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50));
            clock.Advance(TimeSpan.FromSeconds(10));
            advanced += TimeSpan.FromSeconds(10);
        }

        Assert.InRange(advanced, TimeSpan.FromSeconds(160), TimeSpan.FromSeconds(240));
        Assert.True(await Eventually.Until(() => events.Any(e => e.Kind == DlsClientEventKind.BatchSent), TimeSpan.FromSeconds(30)), string.Join("\n", events));
        Assert.Equal((3L, 3L), scene.Counted(ScanItem));
        Assert.Single(events, e => e.Kind == DlsClientEventKind.BatchSent);
    }
}
