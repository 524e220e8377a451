using System.Net.Http.Headers;
using System.Text;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Storage.Postgres;
using Dls.Tests;

namespace Dls.Bench;

/// <summary>
/// The store the listener serves in the benchmark: a new SQLite one in a temporary folder, or the DLS tables in a
/// PostgreSQL database (which must hold none yet), with a per-device item (for the authorization phases) and a
/// per-scan item (for the reports), one default code holding both, and the rate limits at their maximum (their code
/// runs on every request, but they never refuse what the benchmark sends).
/// </summary>
public sealed class BenchStore
{
    public const string DeviceItem = "DEV";
    public const string DeviceProduct = "DBR";
    public const string ScanItem = "SCAN";
    public const string ScanProduct = "DLR";

    private BenchStore(string path, string? folder)
    {
        Path = path;
        Folder = folder;
    }

    /// <summary>The temporary folder of a SQLite store; null on PostgreSQL.</summary>
    public string? Folder { get; }

    /// <summary>The store path the listener is given: the SQLite file, or the <c>postgresql://</c> URI.</summary>
    public string Path { get; }

    public bool IsPostgres => PostgresUri.IsUri(Path);

    /// <summary>A new store: in a new temporary folder, or in the PostgreSQL database <paramref name="postgresUri"/> names.</summary>
    public static BenchStore Create(string? postgresUri)
    {
        BenchStore bench;
        if (postgresUri is null)
        {
            var folder = Directory.CreateTempSubdirectory("dls-bench-").FullName;
            bench = new BenchStore(System.IO.Path.Combine(folder, "dls.db"), folder);
        }
        else
        {
            bench = new BenchStore(postgresUri, null);
        }

        var store = DlsStore.OpenOrCreate(bench.Path);
        new ServerService(store, TimeProvider.System).Initialize("216998", force: false);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        // Quantities far above what any run takes: a refusal for quota would measure something else.
        TestCatalog.AddItem(store, DeviceItem, LicenseMode.PerDeviceYearly, 100_000_000, today.AddYears(-1), today.AddYears(1), product: DeviceProduct);
        TestCatalog.AddItem(store, ScanItem, LicenseMode.PerScan, 1_000_000_000, today.AddYears(-1), today.AddYears(1), product: ScanProduct);
        TestCatalog.AddCode(store, Workload.Code, [DeviceItem, ScanItem], isDefault: true);
        ProtectionSettings.Set(store, DateTimeOffset.UtcNow, newSeatsPerMinute: ProtectionSettings.MaxPerMinute, newSeatsPerMinutePerCode: ProtectionSettings.MaxPerMinute,
            failedAuthorizationsPerMinute: ProtectionSettings.MaxPerMinute, failedAuthorizationsPerMinutePerCode: ProtectionSettings.MaxPerMinute);
        // The listeners are the only ones to use the store from here on; the bench's pooled connections would hold it open.
        ClearPools();
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

    /// <summary>
    /// The store's size now, in bytes, and what was measured: on SQLite the file and its write-ahead log as they lie
    /// on disk; on PostgreSQL the DLS tables with their indexes and TOAST (pg_total_relation_size of every table of
    /// the store's schema; the server's write-ahead log is not the store's and is left out).
    /// </summary>
    public (long Bytes, string What) Size()
    {
        if (!IsPostgres)
        {
            return (FileSize(Path) + FileSize(Path + "-wal"), "dls.db + dls.db-wal");
        }

        using var connection = DlsStore.Open(Path).OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), count(*)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
            """;
        using var reader = command.ExecuteReader();
        reader.Read();
        var bytes = reader.GetInt64(0);
        var tables = reader.GetInt64(1);
        ClearPools();
        return (bytes, $"pg_total_relation_size of the {tables} tables of the store, indexes and TOAST included, server WAL not");
    }

    /// <summary>Removes a SQLite store's folder; a PostgreSQL store goes with its cluster (or stays in the server it was given).</summary>
    public void Delete()
    {
        ClearPools();
        if (Folder is not null)
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    private static void ClearPools()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    private static long FileSize(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
