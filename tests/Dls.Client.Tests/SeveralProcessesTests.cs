using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>Application processes on one device: they share one cache folder without harm, and what they record is kept.</summary>
public sealed class SeveralProcessesTests
{
    [Fact]
    public async Task Two_application_processes_on_one_cache_at_once_are_one_device_and_every_unit_arrives_once()
    {
        await using var scene = await ClientScene.StartAsync();

        var runs = await Task.WhenAll(ClientProcesses.RunAsync(scene, "DBR", 2, 20), ClientProcesses.RunAsync(scene, "DBR", 3, 20));

        Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.Output));
        Assert.All(runs, run => Assert.DoesNotContain("[CacheProblem]", run.Output));
        Assert.Equal((100L, 100L), scene.Counted(ScanItem));
        var devices = Dls.Core.Usage.RawUsage.Batches(scene.Shared.Open()).Select(b => b.ClientUuid).Distinct().ToList();
        var device = Assert.Single(devices);
        Assert.All(runs, run => Assert.Contains($"device {device}", run.Output));
        Assert.Empty(Directory.GetFiles(scene.CacheFolder, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(scene.CacheFolder, "*.damaged", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Usage_of_a_process_that_exits_without_disposing_its_client_is_kept_on_disk_and_sent_by_the_next_client()
    {
        await using var scene = await ClientScene.StartAsync();

        var run = await ClientProcesses.RunAsync(scene, "DBR", 7, 3, exitWithoutDispose: true);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("[BatchStored]", run.Output);
        Assert.Equal((0L, 0L), scene.Counted(ScanItem));
        var next = scene.NewClient(out _);
        Assert.Equal(1, next.PendingBatchCount);
        Assert.Equal(1, (await next.FlushAsync()).BatchesSent);
        Assert.Equal((21L, 21L), scene.Counted(ScanItem));
    }

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public async Task Usage_of_a_killed_process_is_kept_by_its_journal_and_sent_once_by_the_next_client_never_while_it_lives()
    {
        await using var scene = await ClientScene.StartAsync();
        var pending = Path.Combine(scene.NewClient(out _).CacheFolder, "pending");
        using var process = await ClientProcesses.StartHangingAsync(scene, "DBR", 4, 5);
        try
        {
            // Within a few seconds the process's unsealed usage is in its journal (an open batch of its own).
            Assert.True(await Eventually.Until(() => Directory.GetFiles(pending, "*.open").Length == 1, TimeSpan.FromSeconds(30)));

            // While the process lives, its journal is its own: another client sends nothing of it.
            var meanwhile = scene.NewClient(out _);
            Assert.Equal(0, (await meanwhile.FlushAsync()).BatchesSent);
            Assert.Single(Directory.GetFiles(pending, "*.open"));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        // The next client takes the dead process's journal over as it starts, and sends it.
        Assert.Equal((0L, 0L), scene.Counted(ScanItem));
        var next = scene.NewClient(out _);
        Assert.Empty(Directory.GetFiles(pending, "*.open"));
        Assert.Equal(1, next.PendingBatchCount);
        var flushed = await next.FlushAsync();

        Assert.Equal((1, 1), (flushed.BatchesSent, flushed.Accepted));
        Assert.Equal((20L, 20L), scene.Counted(ScanItem));
        Assert.Empty(Directory.GetFiles(pending));

        // Taken over once: a further flush sends nothing.
        Assert.Equal(0, (await scene.NewClient(out _).FlushAsync()).BatchesSent);
        Assert.Equal((20L, 20L), scene.Counted(ScanItem));
    }
}
