using Microsoft.Extensions.Time.Testing;
using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>
/// The listener stopped: clients authorize from the cache until its cacheUntil and keep recording; what they recorded
/// waits on disk and arrives exactly once, through the same client after the listener restarts or through a new client
/// on the same cache, even when a batch the server acknowledged is sent again.
/// </summary>
public sealed class OfflineTests
{
    [Fact]
    public async Task With_the_listener_stopped_clients_work_from_the_cache_until_cacheUntil_and_the_buffered_usage_arrives_exactly_once()
    {
        await using var scene = await ClientScene.StartAsync();
        var running = scene.NewClient(out var runningEvents);
        var granted = await running.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        running.Record("DBR", 4);
        await running.FlushAsync();
        Assert.Equal((4L, 4L), scene.Counted(ScanItem));

        Assert.Equal(0, await scene.Main.TerminateAsync());

        // The running client keeps recording; its flush keeps the batch on disk.
        running.Record("DBR", 3);
        var offline = await running.FlushAsync();
        Assert.Equal((0, 1), (offline.BatchesSent, offline.BatchesPending));
        Assert.Contains(runningEvents, e => e.Kind == DlsClientEventKind.Offline);

        // A new client (another process of the application) authorizes from the cache and records too; at dispose what it
        // could not send stays on disk.
        var restarted = scene.NewClient(out var restartedEvents);
        Assert.Equal(running.DeviceUuid, restarted.DeviceUuid);
        var cached = await restarted.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.True(cached.FromCache);
        Assert.Equal((granted.ItemId, granted.CacheUntil, granted.Token), (cached.ItemId, cached.CacheUntil, cached.Token));
        Assert.Contains(restartedEvents, e => e.Kind == DlsClientEventKind.AuthorizedFromCache);
        restarted.Record("DBR", 6);
        await restarted.DisposeAsync();
        Assert.Equal(2, running.PendingBatchCount);

        // The cache holds until cacheUntil and not a moment longer.
        var justBefore = new FakeTimeProvider(granted.CacheUntil.AddMinutes(-1));
        Assert.True((await scene.NewClient(out _, justBefore).AuthorizeAsync("DBR", "10", DlsDeployment.Desktop)).FromCache);
        var justAfter = new FakeTimeProvider(granted.CacheUntil.AddSeconds(1));
        var expired = await Assert.ThrowsAsync<DlsClientException>(() => scene.NewClient(out _, justAfter).AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));
        Assert.Equal(DlsClientException.Unreachable, expired.ErrorCode);

        // Keep a copy of the waiting batches, as if the process had died between the server's answer and the file's removal.
        var pending = Path.Combine(running.CacheFolder, "pending");
        var copies = Directory.GetFiles(pending, "*.json").ToDictionary(path => path, File.ReadAllBytes);
        Assert.Equal(2, copies.Count);

        // The listener comes back at the same address: the running client sends both batches (a record each), each once.
        await scene.Main.RestartAsync();
        var delivered = await running.FlushAsync();
        Assert.Equal((2, 2, 0, 0), (delivered.BatchesSent, delivered.Accepted, delivered.Duplicates, delivered.BatchesPending));
        Assert.Equal((13L, 13L), scene.Counted(ScanItem));

        // The same batches once more (their ids unchanged): the server answers them as duplicates and counts nothing again.
        foreach (var (path, content) in copies)
        {
            File.WriteAllBytes(path, content);
        }

        var fresh = scene.NewClient(out _);
        var resent = await fresh.FlushAsync();
        Assert.Equal((2, 0, 2), (resent.BatchesSent, resent.Accepted, resent.Duplicates));
        Assert.Equal((13L, 13L), scene.Counted(ScanItem));
        Assert.Empty(Directory.GetFiles(pending));
    }

    [Fact]
    public async Task Usage_a_client_left_on_disk_is_sent_by_the_next_client_that_starts_on_the_cache()
    {
        await using var scene = await ClientScene.StartAsync();
        var first = scene.NewClient(out _);
        await first.AuthorizeAsync("DLR", "3", DlsDeployment.Desktop);
        Assert.Equal(0, await scene.Main.TerminateAsync());
        first.Record("DLR", 5);
        first.Dispose();
        Assert.Equal(1, first.PendingBatchCount);

        await scene.Main.RestartAsync();

        // A client reporting in the background sends what it finds on disk as it starts, before any authorization.
        var next = scene.NewClient(out var events, configure: options => options.ReportInBackground = true);
        Assert.True(await Eventually.Until(() => next.PendingBatchCount == 0, TimeSpan.FromSeconds(30)), string.Join("\n", events));
        Assert.Equal(5L, scene.Counted(DeviceItem).Raw);
    }

    [Fact]
    public async Task Usage_recorded_offline_on_a_device_whose_clock_runs_ahead_of_the_servers_arrives_in_the_servers_slice()
    {
        await using var scene = await ClientScene.StartAsync();
        await scene.NewClient(out _).AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.Equal(0, await scene.Main.TerminateAsync());

        // Ten minutes ahead, offline: the usage falls in a slice the server has not reached.
        var ahead = new FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(10));
        var offline = scene.NewClient(out _, ahead);
        Assert.True((await offline.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop)).FromCache);
        offline.Record("DBR", 4);
        await offline.DisposeAsync();

        // Back online, a client as far ahead sends it: the server refuses a slice in its future (400), the client learns
        // the server's clock from that answer and sends the batch once more in the server's slice, under the same id.
        await scene.Main.RestartAsync();
        var online = scene.NewClient(out var events, new FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(10)));
        var flushed = await online.FlushAsync();

        Assert.Equal((1, 1, 0), (flushed.BatchesSent, flushed.Accepted, flushed.Refused));
        Assert.DoesNotContain(events, e => e.Kind == DlsClientEventKind.BatchRefused);
        Assert.Equal((4L, 4L), scene.Counted(ScanItem));
        var slice = Assert.Single(Dls.Core.Usage.RawUsage.Batches(scene.Shared.Open()).SelectMany(b => b.Records)).Slice;
        Assert.InRange(slice, DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Past_cacheUntil_without_a_server_usage_is_refused_at_once_and_a_new_authorization_lets_it_count_again()
    {
        await using var scene = await ClientScene.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var client = scene.NewClient(out _, clock);
        var granted = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        client.Record("DBR", 2);
        Assert.Equal(0, await scene.Main.TerminateAsync());

        // Eight days on, offline: no grant covers new usage, and the application hears so when it records.
        clock.Advance(TimeSpan.FromDays(8));
        var expired = Assert.Throws<DlsClientException>(() => client.Record("DBR", 5));
        Assert.Equal(DlsClientException.Unreachable, expired.ErrorCode);
        Assert.Contains("cacheUntil", expired.Message);

        // A server answers again: a new authorization (on the server's clock) covers usage again; what was recorded counts.
        await scene.Main.RestartAsync();
        var renewed = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.False(renewed.FromCache);
        Assert.True(renewed.ServerTime > granted.ServerTime);
        client.Record("DBR", 5);
        await client.FlushAsync();
        Assert.Equal((7L, 7L), scene.Counted(ScanItem));
    }

    [Fact]
    public async Task A_client_running_for_days_renews_its_authorization_when_it_reports_once_a_day_has_passed()
    {
        await using var scene = await ClientScene.StartAsync();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var client = scene.NewClient(out var events, clock);
        var first = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);

        clock.Advance(TimeSpan.FromHours(23));
        await client.FlushAsync();
        Assert.Single(events, e => e.Kind == DlsClientEventKind.Authorized);

        clock.Advance(TimeSpan.FromHours(2));
        await client.FlushAsync();
        Assert.Equal(2, events.Count(e => e.Kind == DlsClientEventKind.Authorized));
        var renewed = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);
        Assert.True(renewed.ServerTime > first.ServerTime);
        Assert.True(renewed.CacheUntil > first.CacheUntil);
    }
}
