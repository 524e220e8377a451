using System.Net.Http.Headers;
using System.Text;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Tests;

namespace Dls.Bench;

/// <summary>
/// The store the listener serves in the benchmark: a new one in a temporary folder with a per-device item (for the
/// authorization phases) and a per-scan item (for the reports), one default code holding both, and the rate limits
/// at their maximum (their code runs on every request, but they never refuse what the benchmark sends).
/// </summary>
public sealed class BenchStore
{
    public const string DeviceItem = "DEV";
    public const string DeviceProduct = "DBR";
    public const string ScanItem = "SCAN";
    public const string ScanProduct = "DLR";

    private BenchStore(string folder)
    {
        Folder = folder;
        Path = System.IO.Path.Combine(folder, "dls.db");
    }

    public string Folder { get; }

    public string Path { get; }

    /// <summary>The store file and its write-ahead log as they lie on disk now, in bytes.</summary>
    public long SizeOnDisk => FileSize(Path) + FileSize(Path + "-wal");

    public static BenchStore Create()
    {
        var bench = new BenchStore(Directory.CreateTempSubdirectory("dls-bench-").FullName);
        var store = DlsStore.OpenOrCreate(bench.Path);
        new ServerService(store, TimeProvider.System).Initialize("216998", force: false);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        // Quantities far above what any run takes: a refusal for quota would measure something else.
        TestCatalog.AddItem(store, DeviceItem, LicenseMode.PerDeviceYearly, 100_000_000, today.AddYears(-1), today.AddYears(1), product: DeviceProduct);
        TestCatalog.AddItem(store, ScanItem, LicenseMode.PerScan, 1_000_000_000, today.AddYears(-1), today.AddYears(1), product: ScanProduct);
        TestCatalog.AddCode(store, Workload.Code, [DeviceItem, ScanItem], isDefault: true);
        ProtectionSettings.Set(store, DateTimeOffset.UtcNow, newSeatsPerMinute: ProtectionSettings.MaxPerMinute, newSeatsPerMinutePerCode: ProtectionSettings.MaxPerMinute,
            failedAuthorizationsPerMinute: ProtectionSettings.MaxPerMinute, failedAuthorizationsPerMinutePerCode: ProtectionSettings.MaxPerMinute);
        // The listener is the only one to use the store from here on; the bench's pooled connections would hold it open.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return bench;
    }

    /// <summary>
    /// Authorizes devices 0 … <paramref name="devices"/>-1 for <paramref name="product"/> through the listener, untimed:
    /// after this they hold a seat and a grant, so their reports count and their authorizations are "known device".
    /// </summary>
    public static async Task AuthorizeAsync(string url, int devices, string product)
    {
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            int device;
            while ((device = Interlocked.Increment(ref next)) < devices)
            {
                using var body = new StringContent(Workload.AuthJson(Workload.Device(device), product, $"setup-{product}-{device}"), Encoding.UTF8);
                body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var answer = await http.PostAsync("api/v1/auth", body);
                if (!answer.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"Setup: authorizing device {device} for {product} was answered {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
                }
            }
        }));
    }

    public void Delete()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }

    private static long FileSize(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
