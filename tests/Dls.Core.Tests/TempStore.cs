using Dls.Core.Server;
using Dls.Core.Storage;
using Microsoft.Extensions.Time.Testing;

namespace Dls.Core.Tests;

/// <summary>
/// A real store of the engine under test, fresh for each test: a SQLite file in a new temporary folder (removed
/// afterwards), or, when <c>DLS_TEST_ENGINE=postgresql</c>, a new database of the tests' own PostgreSQL cluster
/// (<see cref="TestPostgres"/>, removed with the cluster when the process exits). Tests about SQLite files themselves
/// carry <c>[Trait("Engine", "sqlite")]</c> and are left out of the PostgreSQL pass.
/// </summary>
public sealed class TempStore : IDisposable
{
    /// <summary>The variable that picks the engine: <c>sqlite</c> (the default) or <c>postgresql</c>.</summary>
    public const string EngineVariable = "DLS_TEST_ENGINE";

    private bool _checkedDatabase;

    public TempStore()
    {
        Folder = Directory.CreateTempSubdirectory("dls-test-").FullName;
        Path = IsPostgres ? TestPostgres.NewDatabase() : System.IO.Path.Combine(Folder, "dls.db");
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));
    }

    /// <summary>True when this run's stores are PostgreSQL databases.</summary>
    public static bool IsPostgres { get; } = Engine() == "postgresql";

    /// <summary>A scratch folder of the test's own (the SQLite file's folder on SQLite).</summary>
    public string Folder { get; }

    /// <summary>What a store path takes: the SQLite file, or the database's <c>postgresql://</c> URI.</summary>
    public string Path { get; }

    public FakeTimeProvider Clock { get; }

    public DlsStore Open()
    {
        var store = DlsStore.OpenOrCreate(Path);
        if (IsPostgres && !_checkedDatabase)
        {
            AssertStoreIsInTheDatabase();
            _checkedDatabase = true;
        }

        return store;
    }

    /// <summary>A store with a server identity, as Initialize-DlsServer leaves it.</summary>
    public DlsStore Initialized(string organizationId = "216998")
    {
        var store = Open();
        new ServerService(store, Clock).Initialize(organizationId, force: false);
        return store;
    }

    public void Dispose()
    {
        if (IsPostgres)
        {
            // Idle pooled connections to a finished test's database would otherwise add up towards the cluster's max_connections.
            Npgsql.NpgsqlConnection.ClearAllPools();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The PostgreSQL pass's premise: the store lives in the database. A store that took the URI for a file name
    /// would pass every test on SQLite instead; this makes each of them fail, saying so.
    /// </summary>
    private void AssertStoreIsInTheDatabase()
    {
        using var connection = new Npgsql.NpgsqlConnection(TestPostgres.ConnectionStringOf(Path));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migration'";
        if ((long)command.ExecuteScalar()! == 0)
        {
            throw new InvalidOperationException($"DlsStore.OpenOrCreate(\"{Path}\") left no tables in that PostgreSQL database: the URI was not opened as a PostgreSQL store.");
        }
    }

    private static string Engine()
    {
        var engine = (Environment.GetEnvironmentVariable(EngineVariable) ?? "").Trim().ToLowerInvariant();
        return engine switch
        {
            "" or "sqlite" => "sqlite",
            "postgresql" => "postgresql",
            _ => throw new InvalidOperationException($"{EngineVariable}='{engine}' is not an engine: use sqlite or postgresql."),
        };
    }
}
