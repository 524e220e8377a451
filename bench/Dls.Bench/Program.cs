using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Tests;

// A load benchmark for the SDK protocol: starts a real listener on 127.0.0.1 over a fresh store, then drives
// authorizations and report batches from many concurrent clients and prints requests/s and latency percentiles.
// Usage: dotnet run --project bench/Dls.Bench -c Release -- [listener dll] [seconds per phase] [concurrency]
var listenerDll = args.Length > 0 && args[0].Length > 0 ? args[0] : FindListener();
var seconds = args.Length > 1 ? int.Parse(args[1]) : 10;
var concurrency = args.Length > 2 ? int.Parse(args[2]) : 64;

var folder = Directory.CreateTempSubdirectory("dls-bench-").FullName;
var storePath = Path.Combine(folder, "dls.db");
var store = DlsStore.OpenOrCreate(storePath);
new ServerService(store, TimeProvider.System).Initialize("216998", force: false);
var today = DateOnly.FromDateTime(DateTime.UtcNow);
TestCatalog.AddItem(store, "DEV", LicenseMode.PerDeviceYearly, 10_000_000, today.AddYears(-1), today.AddYears(1));
TestCatalog.AddItem(store, "SCAN", LicenseMode.PerScan, 1_000_000_000, today.AddYears(-1), today.AddYears(1), product: "DLR");
TestCatalog.AddCode(store, "216998-bench", ["DEV", "SCAN"], isDefault: true);

// The rate limits stay on (their code runs on every request) but far above what the benchmark sends.
ProtectionSettings.Set(store, DateTimeOffset.UtcNow, newSeatsPerMinute: ProtectionSettings.MaxPerMinute, newSeatsPerMinutePerCode: ProtectionSettings.MaxPerMinute,
    failedAuthorizationsPerMinute: ProtectionSettings.MaxPerMinute, failedAuthorizationsPerMinutePerCode: ProtectionSettings.MaxPerMinute);

var port = FreePort();
var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
foreach (var a in new[] { listenerDll, "--store", storePath, "--urls", $"http://127.0.0.1:{port}" })
{
    start.ArgumentList.Add(a);
}

using var listener = Process.Start(start)!;
listener.OutputDataReceived += (_, _) => { };
listener.ErrorDataReceived += (_, _) => { };
listener.BeginOutputReadLine();
listener.BeginErrorReadLine();
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
for (var i = 0; ; i++)
{
    try
    {
        if ((await http.GetAsync("healthz")).IsSuccessStatusCode) break;
    }
    catch (HttpRequestException) when (i < 100)
    {
    }

    await Task.Delay(100);
}

Console.WriteLine($"DLS listener benchmark: {Environment.ProcessorCount} cores, {concurrency} concurrent clients, {seconds} s a phase");
try
{
    await Phase("auth (new device each time)", i => http.PostAsJsonAsync("api/v1/auth", AuthBody($"dev-{i}")));
    await Phase("auth (known device)", i => http.PostAsJsonAsync("api/v1/auth", AuthBody($"dev-{i % 1000}")));

    // Only authorized usage counts: the reporting devices hold a grant on the scan item first (not timed).
    for (var i = 0; i < 1000; i++)
    {
        using var granted = await http.PostAsJsonAsync("api/v1/auth", AuthBody($"dev-{i}", "DLR"));
        granted.EnsureSuccessStatusCode();
    }

    await Phase("reports (10 records a batch)", i => http.PostAsJsonAsync("api/v1/reports", new
    {
        clientUuid = $"dev-{i % 1000}",
        handshakeCode = "216998-bench",
        batchId = $"batch-{i}",
        records = Enumerable.Range(0, 10).Select(_ => new { slice = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("O"), itemId = "SCAN", product = "DLR", count = 3 }).ToArray(),
    }));
    // Every batch must have counted: a refused record would be answered 200 too.
    var counted = store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce((SELECT counted FROM item_counter WHERE item_id = 'SCAN'), 0), (SELECT count(*) FROM report_batch);";
        using var reader = command.ExecuteReader();
        reader.Read();
        return (Counted: reader.GetInt64(0), Batches: reader.GetInt64(1));
    });
    Console.WriteLine($"{"reports counted",-32} {counted.Batches,9} batches, {counted.Counted / 3,9} records ({(counted.Counted == counted.Batches * 30 ? "every record counted" : "SOME RECORDS WERE NOT COUNTED")})");

}
finally
{
    listener.Kill();
    await listener.WaitForExitAsync();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(folder, recursive: true);
}

return 0;

async Task Phase(string name, Func<int, Task<HttpResponseMessage>> send)
{
    var counter = 0;
    var failures = 0;
    var latencies = new List<double>[concurrency];
    var clock = Stopwatch.StartNew();
    var deadline = TimeSpan.FromSeconds(seconds);
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
    {
        latencies[worker] = new List<double>(100_000);
        while (clock.Elapsed < deadline)
        {
            var i = Interlocked.Increment(ref counter);
            var t = Stopwatch.GetTimestamp();
            using var response = await send(i);
            latencies[worker].Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.OK) Interlocked.Increment(ref failures);
        }
    }));
    var elapsed = clock.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    Console.WriteLine($"{name,-32} {all.Length / elapsed,9:F0} req/s   p50 {all[all.Length / 2],6:F1} ms   p99 {all[(int)(all.Length * 0.99)],6:F1} ms   non-200: {failures}");
}

Dictionary<string, object> AuthBody(string client, string product = "DBR") => new()
{
    ["handshakeCode"] = "216998-bench",
    ["clientUuid"] = client,
    ["product"] = product,
    ["version"] = "10.4",
    ["deployment"] = "Desktop",
    ["processName"] = "bench",
    ["os"] = "Linux",
    ["requestId"] = Guid.NewGuid().ToString("N"),
};

static int FreePort()
{
    using var socket = new TcpListener(IPAddress.Loopback, 0);
    socket.Start();
    return ((IPEndPoint)socket.LocalEndpoint).Port;
}

static string FindListener()
{
    var directory = new DirectoryInfo(AppContext.BaseDirectory);
    while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DLS.sln")))
    {
        directory = directory.Parent;
    }

    return Directory.GetFiles(Path.Combine(directory!.FullName, "listener", "bin", "Release"), "Dls.Listener.dll", SearchOption.AllDirectories)
        .OrderByDescending(File.GetLastWriteTimeUtc).First();
}
