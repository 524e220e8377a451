using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>Two processes of one application on one device share the cache folder: one device, and every unit counted once.</summary>
public sealed class SharedCacheTests
{
    [Fact]
    public async Task Two_clients_on_one_cache_recording_and_flushing_at_once_are_one_device_and_count_every_unit_once()
    {
        await using var scene = await ClientScene.StartAsync();
        var first = scene.NewClient(out var firstEvents);
        var second = scene.NewClient(out var secondEvents);
        Assert.Equal(first.DeviceUuid, second.DeviceUuid);
        await Task.WhenAll(first.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop), second.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));

        async Task Work(DlsClient client)
        {
            for (var i = 0; i < 25; i++)
            {
                client.Record("DBR", 1);
                client.Record("DBR", 2, new Dictionary<string, long> { ["qr"] = 2 });
                await client.FlushAsync();
            }
        }

        await Task.WhenAll(Task.Run(() => Work(first)), Task.Run(() => Work(second)));
        await first.FlushAsync();
        await second.FlushAsync();

        Assert.Equal(0, first.PendingBatchCount);
        Assert.Equal((150L, 150L), scene.Counted(ScanItem));
        Assert.DoesNotContain(firstEvents.Concat(secondEvents), e => e.Kind is DlsClientEventKind.CacheProblem or DlsClientEventKind.BatchRefused or DlsClientEventKind.RecordsRefused);
        Assert.Empty(Directory.GetFiles(first.CacheFolder, "*.tmp", SearchOption.AllDirectories));
    }
}
