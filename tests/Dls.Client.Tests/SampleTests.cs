using static Dls.Tests.LicensedServer;

namespace Dls.Client.Tests;

/// <summary>The sample application (client/samples/DlsClientSample) does what the README shows: online, offline, online again.</summary>
public sealed class SampleTests
{
    [Fact]
    public async Task The_sample_authorizes_and_reports_online_works_from_the_cache_offline_and_delivers_the_kept_usage_once_back_online()
    {
        await using var scene = await ClientScene.StartAsync();
        string[] Arguments(int count) => ["--key", scene.Key, "--product", "DBR", "--count", $"{count}", "--cache", scene.CacheFolder];

        var online = await ClientProcesses.RunSampleAsync(Arguments(5));
        Assert.True(online.ExitCode == 0, online.Output);
        Assert.Contains("fromCache False", online.Output);
        Assert.Contains("0 batch(es) pending.", online.Output);
        Assert.Equal((5L, 5L), scene.Counted(ScanItem));

        Assert.Equal(0, await scene.Main.TerminateAsync());
        var offline = await ClientProcesses.RunSampleAsync(Arguments(7));
        Assert.True(offline.ExitCode == 0, offline.Output);
        Assert.Contains("fromCache True", offline.Output);
        Assert.Contains("1 batch(es) pending.", offline.Output);

        await scene.Main.RestartAsync();
        var back = await ClientProcesses.RunSampleAsync(Arguments(2));
        Assert.True(back.ExitCode == 0, back.Output);
        Assert.Contains("1 batch(es) pending from earlier runs", back.Output);
        Assert.Contains("2 batch(es) sent", back.Output);
        Assert.Equal((14L, 14L), scene.Counted(ScanItem));

        var refused = await ClientProcesses.RunSampleAsync(["--key", scene.Key, "--product", "DWT", "--cache", scene.CacheFolder]);
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("errorCode 104", refused.Output);
        var wrong = await ClientProcesses.RunSampleAsync(["--key", "DLS2nonsense", "--product", "DBR"]);
        Assert.Equal(2, wrong.ExitCode);
    }
}
