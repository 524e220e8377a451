using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using Dls.Client;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Dls.Listener.Tests;

namespace Dls.Client.PackageTests;

/// <summary>
/// Issue 13: the DLS.Client package that `./build.ps1 build` packs works as an SDK would take it: referenced as a
/// package (not the project), it authorizes against a real listener process on a real store and reports usage the
/// store counts.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly string _cacheFolder = Directory.CreateTempSubdirectory("dls-package-test-").FullName;

    [Fact]
    public async Task The_package_authorizes_against_a_listener_and_the_store_counts_what_it_reports()
    {
        await using var host = await ListenerHost.StartAsync();
        LicensedServer.AddItems(host.OpenStore());
        var key = LicensedServer.LicenseKey(host.Server, host.Url);

        // Reported by FlushAsync only, so the test knows when usage goes out.
        await using var client = DlsClient.Create(
            key, new DlsApplication("package-test"), new DlsClientOptions { CacheFolder = _cacheFolder, ReportInBackground = false });
        var authorization = await client.AuthorizeAsync("DBR", "10", DlsDeployment.Desktop);

        Assert.False(authorization.FromCache);
        Assert.Equal(new Uri(host.Url), authorization.Server);
        Assert.Equal(LicensedServer.ScanItem, authorization.ItemId);

        client.Record("DBR", 5);
        var flushed = await client.FlushAsync();

        // Accepted counts records, not units: the 5 units of one slice and item are one record.
        Assert.Equal(1, flushed.Accepted);
        Assert.Equal(1, flushed.BatchesSent);
        Assert.Equal(0, flushed.Refused);
        Assert.Equal(0, flushed.BatchesPending);
        var store = host.OpenStore();
        Assert.Equal((5L, 5L), LicensedServer.Counted(store, LicensedServer.ScanItem));
        // The roll-up into the usage statistics may follow the acknowledgement by a moment.
        Assert.True(await Eventually.Until(() => RolledUpCount(store) == 5, TimeSpan.FromSeconds(30)), $"rolled up: {RolledUpCount(store)}");
    }

    [Fact]
    public void The_client_under_test_is_the_one_in_the_package_just_packed()
    {
        // Not client/bin's build and not an older package of the same version from a cache: the same bytes as the
        // DLS.Client.<version>.nupkg in out/packages.
        var assembly = typeof(DlsClient).Assembly;
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        var package = Path.Combine(RepositoryRoot(), "out", "packages", $"DLS.Client.{version}.nupkg");
        Assert.True(File.Exists(package), $"{package} does not exist: run ./build.ps1 build.");

        using var zip = ZipFile.OpenRead(package);
        var entry = zip.GetEntry("lib/netstandard2.0/Dls.Client.dll");
        Assert.NotNull(entry);
        using var packed = entry.Open();
        Assert.Equal(Convert.ToHexString(SHA256.HashData(packed)), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(assembly.Location))));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_cacheFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static long RolledUpCount(DlsStore store) =>
        new UsageQuery(store, TimeProvider.System)
            .Get(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), UsageInterval.Total, UsageGrouping.Item, null, null)
            .Where(r => r.ItemId == LicensedServer.ScanItem)
            .Sum(r => r.UsageCount);

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException($"No DLS.sln above {AppContext.BaseDirectory}.");
    }
}
