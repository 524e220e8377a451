using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Tests;
using Microsoft.Data.Sqlite;

namespace Dls.Listener.Tests;

/// <summary>
/// One store that several real listener processes share (main and standby, SPEC §7). Where the store lives is decided
/// here and nowhere else, so the same tests can run on another engine by changing <see cref="Create"/>. The listeners
/// it starts keep their alert check and retention purge out of the way (an hour off) unless a test gives its own.
/// </summary>
public sealed class SharedStore : IAsyncDisposable
{
    private static readonly IReadOnlyDictionary<string, string> Quiet = new Dictionary<string, string>
    {
        ["Dls__Alerts__FirstCheckDelay"] = "01:00:00",
        ["Dls__Retention__FirstRunDelay"] = "01:00:00",
    };

    private SharedStore(string folder, string storePath, ServerInfo server)
    {
        Folder = folder;
        StorePath = storePath;
        Server = server;
    }

    public string Folder { get; }

    /// <summary>What the listeners are given as <c>--store</c>.</summary>
    public string StorePath { get; }

    public ServerInfo Server { get; }

    /// <summary>A new store of <paramref name="engine"/> with a server identity, the rate limits off.</summary>
    /// <remarks>A PostgreSQL store is a new database of the tests' own cluster (<see cref="TestPostgres"/>).</remarks>
    public static SharedStore Create(string organizationId = "216998", StoreEngine engine = StoreEngine.Sqlite)
    {
        if (engine == StoreEngine.PostgreSql)
        {
            var uri = TestPostgres.NewDatabase();
            var server = new ServerService(DlsStore.OpenOrCreate(uri), TimeProvider.System).Initialize(organizationId, force: false);
            ProtectionSettings.Set(DlsStore.Open(uri), DateTimeOffset.UtcNow, newSeatsPerMinute: 0, newSeatsPerMinutePerCode: 0,
                failedAuthorizationsPerMinute: 0, failedAuthorizationsPerMinutePerCode: 0);
            return new SharedStore(Directory.CreateTempSubdirectory("dls-listener-test-").FullName, uri, server);
        }

        var (folder, storePath, sqliteServer) = ListenerHost.NewStore(organizationId, rateLimits: false);
        return new SharedStore(folder, storePath, sqliteServer);
    }

    public DlsStore Open() => DlsStore.Open(StorePath);

    /// <summary>
    /// A listener process on this store with <c>--role <paramref name="role"/></c> (null: no --role), once /healthz answers;
    /// at <paramref name="listenUrl"/> when given, else on any free port.
    /// </summary>
    public Task<ListenerHost> StartListenerAsync(string? role, IReadOnlyDictionary<string, string>? environment = null, string? listenUrl = null)
    {
        var settings = new Dictionary<string, string>(Quiet);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        return ListenerHost.StartOnAsync(StorePath, Server, role is null ? [] : ["--role", role], settings, listenUrl);
    }

    /// <summary>
    /// A hash of every row of the store but the listeners' own records (their heartbeats change every second): equal
    /// digests mean no request changed anything.
    /// </summary>
    public string ContentDigest()
    {
        var store = Open();
        using var connection = store.OpenConnection();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            // PostgreSQL's store_lock counts write transactions (the heartbeats' among them): a lock, not content.
            list.CommandText = store.Engine == StoreEngine.Sqlite
                ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'listener' ORDER BY name;"
                : "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT IN ('listener', 'store_lock') ORDER BY 1;";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        return string.Join("\n", tables.Select(table => $"## {table}\n{StoreDigest.Rows(connection, table)}"));
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
