using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>Main and standby listeners (SPEC §7) as the license key names them: the client follows whichever serves.</summary>
public sealed class FailoverTests
{
    private static readonly TimeSpan TakeOverWithin = TimeSpan.FromSeconds(20);

    [UnixFact("kill -9 (SIGKILL) is a Unix signal")]
    public async Task With_the_main_down_the_standby_serves_the_client_and_with_the_main_back_the_client_returns_to_it()
    {
        await using var scene = await ClientScene.StartAsync(withStandby: true);
        var standby = scene.Standby!;
        var mainUri = new Uri(scene.Main.Url);
        var standbyUri = new Uri(standby.Url);
        var client = scene.NewClient(out var events);

        Assert.Equal(mainUri, (await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop)).Server);
        client.Record("DBR", 1);
        await client.FlushAsync();
        Assert.Equal(mainUri, client.CurrentServer);

        // The main dies; once the standby serves, the client is served by it: authorization and reports.
        await scene.Main.KillHardAsync();
        Assert.True(await Eventually.Until(() => ClientScene.ServingAsync(standby), TakeOverWithin), standby.Output);
        var fromStandby = await client.AuthorizeAsync("DLR", "3", DlsDeployment.Desktop);
        Assert.Equal((standbyUri, false), (fromStandby.Server, fromStandby.FromCache));
        client.Record("DBR", 10);
        client.Record("DLR", 2);
        var flushedToStandby = await client.FlushAsync();
        Assert.Equal((1, 0), (flushedToStandby.BatchesSent, flushedToStandby.BatchesPending));
        Assert.Equal(standbyUri, client.CurrentServer);

        // The main comes back at its address; the standby stands by again, and the client returns to the main.
        await scene.Main.RestartAsync();
        Assert.True(await Eventually.Until(async () => !await ClientScene.ServingAsync(standby), TakeOverWithin), standby.Output);
        client.Record("DBR", 100);
        var flushedToMain = await client.FlushAsync();
        Assert.Equal((1, 0), (flushedToMain.BatchesSent, flushedToMain.BatchesPending));
        Assert.Equal(mainUri, client.CurrentServer);
        var again = scene.NewClient(out _);
        Assert.Equal(mainUri, (await again.AuthorizeAsync("DLR", "3", DlsDeployment.Desktop)).Server);

        // Each server change was an event, and every unit arrived once.
        var changes = events.Where(e => e.Kind == DlsClientEventKind.ServerChanged).Select(e => e.Server).ToList();
        Assert.Equal([mainUri, standbyUri, mainUri], changes);
        Assert.Equal((111L, 111L), scene.Counted(ScanItem));
        Assert.Equal(2L, scene.Counted(DeviceItem).Raw);
    }

    [Fact]
    public async Task With_no_server_answering_an_authorization_without_a_cache_fails_with_unreachable_naming_both_servers()
    {
        await using var scene = await ClientScene.StartAsync(withStandby: true);
        Assert.Equal(0, await scene.Main.TerminateAsync());
        Assert.Equal(0, await scene.Standby!.TerminateAsync());
        var client = scene.NewClient(out _);

        var failure = await Assert.ThrowsAsync<DlsClientException>(() => client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop));

        Assert.Equal(DlsClientException.Unreachable, failure.ErrorCode);
        Assert.Contains(new Uri(scene.Main.Url).ToString(), failure.Message);
        Assert.Contains(new Uri(scene.Standby.Url).ToString(), failure.Message);
        Assert.Contains("No valid authorization", failure.Message);
    }
}
