using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Dls.Listener.Tests;

namespace Dls.Client.Tests;

/// <summary>
/// The setup every client test shares: a store with the items of <see cref="LicensedServer"/>, a main listener process at
/// a fixed address (and a standby, when asked) so that a restart comes back where the license key points, a cache folder
/// of its own, and clients that record the events they raise.
/// </summary>
public sealed class ClientScene : IAsyncDisposable
{
    private readonly List<DlsClient> _clients = [];

    private ClientScene(SharedStore shared, ListenerHost main, ListenerHost? standby, string key, string cacheFolder)
    {
        Shared = shared;
        Main = main;
        Standby = standby;
        Key = key;
        CacheFolder = cacheFolder;
    }

    public SharedStore Shared { get; }

    public ListenerHost Main { get; }

    public ListenerHost? Standby { get; }

    /// <summary>The license key naming the listeners' addresses.</summary>
    public string Key { get; }

    public string CacheFolder { get; }

    public static async Task<ClientScene> StartAsync(bool withStandby = false)
    {
        var shared = SharedStore.Create();
        LicensedServer.AddItems(shared.Open());
        var mainUrl = LicensedServer.FreeLoopbackUrl();
        var main = await shared.StartListenerAsync(withStandby ? "Main" : null, listenUrl: mainUrl);
        ListenerHost? standby = null;
        string? standbyUrl = null;
        if (withStandby)
        {
            standbyUrl = LicensedServer.FreeLoopbackUrl();
            standby = await shared.StartListenerAsync("Standby", listenUrl: standbyUrl);
        }

        var cache = Directory.CreateTempSubdirectory("dls-client-cache-").FullName;
        return new ClientScene(shared, main, standby, LicensedServer.LicenseKey(shared.Server, mainUrl, standbyUrl), cache);
    }

    /// <summary>A client as an application creates it (reporting in the background off: the tests flush), its events kept in <paramref name="events"/>.</summary>
    public DlsClient NewClient(out ConcurrentQueue<DlsClientEventArgs> events, TimeProvider? clock = null, Action<DlsClientOptions>? configure = null)
    {
        var options = new DlsClientOptions
        {
            CacheFolder = CacheFolder,
            ReportInBackground = false,
            RequestTimeout = TimeSpan.FromSeconds(5),
            MinBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(1),
            TimeProvider = clock ?? TimeProvider.System,
        };
        configure?.Invoke(options);
        var client = DlsClient.Create(Key, new DlsApplication("scanner") { ProcessName = "scanner" }, options);
        var seen = new ConcurrentQueue<DlsClientEventArgs>();
        client.Event += (_, e) => seen.Enqueue(e);
        events = seen;
        _clients.Add(client);
        return client;
    }

    /// <summary>An item's usage as the store holds it: raw records kept and the item's counter.</summary>
    public (long Raw, long Counter) Counted(string itemId) => LicensedServer.Counted(Shared.Open(), itemId);

    /// <summary>Whether a listener's /healthz says it serves (a standby: no main alive).</summary>
    public static async Task<bool> ServingAsync(ListenerHost host)
    {
        try
        {
            using var json = JsonDocument.Parse(await host.Http.GetStringAsync("healthz"));
            return json.RootElement.GetProperty("serving").GetBoolean();
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }

        await Main.DisposeAsync();
        await Shared.DisposeAsync();
        try
        {
            Directory.Delete(CacheFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
