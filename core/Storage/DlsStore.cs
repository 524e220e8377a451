using System.Data.Common;
using System.Runtime.InteropServices;
using Dls.Core.Errors;
using Dls.Core.Storage.Postgres;
using Dls.Core.Storage.Sql;
using Dls.Core.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Dls.Core.Storage;

/// <summary>
/// The store shared by the cmdlets and the listeners: one SQLite file (the embedded default, WAL, a busy timeout and
/// foreign keys set) or a PostgreSQL database named by a <c>postgresql://</c> URI (SPEC §1). Hands out one pooled
/// connection per operation, and brings the schema up to date when opened. Both engines run the same SQL
/// (<c>Storage/Sql</c>); a write transaction excludes every other writer of the store on both.
/// </summary>
public sealed class DlsStore
{
    /// <summary>
    /// How long a writer waits for another process's write lock before giving up: 30 s, or the whole seconds in
    /// <c>DLS_BUSY_TIMEOUT_SECONDS</c> when that is set (1 to 3600).
    /// </summary>
    public static readonly TimeSpan BusyTimeout = ConfiguredBusyTimeout();

    private static readonly Migration[] Migrations = typeof(Migration).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(Migration)) && !t.IsAbstract)
        .Select(t => (Migration)Activator.CreateInstance(t, nonPublic: true)!)
        .OrderBy(m => m.Version)
        .ToArray();

    private readonly string _connectionString;
    private readonly TimeSpan _busyTimeout;

    private DlsStore(string path, bool readOnly = false, TimeSpan? busyTimeout = null)
    {
        Path = path;
        _busyTimeout = busyTimeout ?? BusyTimeout;
        Engine = PostgresUri.IsUri(path) ? StoreEngine.PostgreSql : StoreEngine.Sqlite;
        _connectionString = Engine == StoreEngine.PostgreSql
            ? PostgresUri.ConnectionString(path, _busyTimeout)
            : new SqliteConnectionStringBuilder
            {
                DataSource = readOnly ? ReadOnlyDataSource(path) : path,
                Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite,
                // A read-only look (tab completion) keeps no file open once it is done.
                Pooling = !readOnly,
                DefaultTimeout = Math.Max(1, (int)_busyTimeout.TotalSeconds),
            }.ToString();
    }

    /// <summary>The store file's full path, or the PostgreSQL URI as given.</summary>
    public string Path { get; }

    /// <summary>The engine the store lives in.</summary>
    public StoreEngine Engine { get; }

    /// <summary>The schema version this build writes.</summary>
    public static int SchemaVersion => Migrations.Length == 0 ? 0 : Migrations[^1].Version;

    /// <summary>Opens an existing store; <c>StoreNotFound</c> when there is no file at <paramref name="path"/> (no DLS store in the database).</summary>
    public static DlsStore Open(string? path)
    {
        var full = StorePaths.Resolve(path);
        if (!PostgresUri.IsUri(full) && !File.Exists(full))
        {
            throw new DlsException(
                ErrorIds.StoreNotFound,
                DlsErrorKind.NotFound,
                $"There is no DLS store at '{full}'. Run Initialize-DlsServer -StorePath '{full}' first.",
                full);
        }

        var store = new DlsStore(full);
        store.EnsureSchemaTranslated(create: false);
        return store;
    }

    /// <summary>
    /// Opens an existing store for reading only, for lookups that must never change anything (tab completion): a SQLite
    /// file is opened in SQLite's read-only mode, never created, migrated or written, and a lock is waited for at most
    /// <paramref name="busyTimeout"/>. Null when there is no store at <paramref name="path"/> or its schema is not the
    /// one this build writes (older stores are left for a cmdlet to bring up to date).
    /// </summary>
    public static DlsStore? TryOpenReadOnly(string path, TimeSpan busyTimeout)
    {
        var postgres = PostgresUri.IsUri(path);
        if (!postgres && !File.Exists(path))
        {
            return null;
        }

        var store = new DlsStore(path, readOnly: true, busyTimeout);
        using var connection = store.OpenConnection();
        try
        {
            var current = connection is NpgsqlConnection npgsql
                ? PostgresSchema.IsCurrent(npgsql, Migrations)
                : SqliteSchema.IsCurrent((SqliteConnection)connection, Migrations);
            return current ? store : null;
        }
        catch (DbException ex)
        {
            throw store.Translate(ex);
        }
    }

    /// <summary>
    /// Opens the store, creating it when missing: a SQLite file (owner-only) and its folder; in a PostgreSQL database
    /// (which must exist), the DLS tables.
    /// </summary>
    public static DlsStore OpenOrCreate(string? path)
    {
        var full = StorePaths.Resolve(path);
        if (!PostgresUri.IsUri(full) && !File.Exists(full))
        {
            CreateFile(full);
        }

        var store = new DlsStore(full);
        store.EnsureSchemaTranslated(create: true);
        return store;
    }

    /// <summary>A new open connection to the store (an <see cref="SqliteConnection"/> or an <see cref="NpgsqlConnection"/>).</summary>
    public DbConnection OpenConnection()
    {
        if (Engine == StoreEngine.PostgreSql)
        {
            var npgsql = new NpgsqlConnection(_connectionString);
            try
            {
                npgsql.Open();
                return npgsql;
            }
            catch (NpgsqlException ex)
            {
                npgsql.Dispose();
                throw PostgresFailures.Translate(ex, Path);
            }
            catch (IOException ex)
            {
                // Npgsql reads the pgpass file named by PGPASSFILE, and fails when it cannot.
                npgsql.Dispose();
                throw new DlsException(
                    ErrorIds.StoreUnavailable,
                    DlsErrorKind.ResourceUnavailable,
                    $"The password of '{Path}' could not be looked up: {ex.Message} Check PGPASSFILE, or give the password in PGPASSWORD.",
                    Path,
                    ex);
            }
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            pragma.CommandText =
                $"PRAGMA busy_timeout = {(int)_busyTimeout.TotalMilliseconds}; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw StoreFailures.Translate(ex, Path);
        }
    }

    /// <summary>The engine's failure as the DlsException the front ends show; any other error unchanged.</summary>
    public Exception Translate(Exception error) => error switch
    {
        SqliteException sqlite => StoreFailures.Translate(sqlite, Path),
        NpgsqlException npgsql => PostgresFailures.Translate(npgsql, Path),
        _ => error,
    };

    /// <summary>Whether <paramref name="error"/> is a failure of a store engine (busy, full, unreachable …) rather than of a rule.</summary>
    public static bool IsEngineFailure(Exception error) => error is SqliteException or NpgsqlException;

    /// <summary>The aggregate stores; their methods take a unit of work of this store.</summary>
    internal AggregateStores Stores => SqlStores.All;

    /// <summary>Opens a unit of work whose write transaction is open; dispose it without <see cref="UnitOfWork.Commit"/> to roll back.</summary>
    public UnitOfWork BeginWrite() => Begin(write: true, beginNow: true);

    /// <summary>Opens a unit of work that reads, each statement on its own snapshot.</summary>
    public UnitOfWork BeginRead() => Begin(write: false, beginNow: false);

    /// <summary>Opens a unit of work that reads one consistent snapshot (a read transaction) until disposed.</summary>
    public UnitOfWork BeginSnapshot()
    {
        var unit = Begin(write: false, beginNow: false);
        try
        {
            ((SqlUnitOfWork)unit).BeginSnapshot();
            return unit;
        }
        catch (DbException ex)
        {
            unit.Dispose();
            throw Translate(ex);
        }
    }

    /// <summary>Runs <paramref name="work"/> on one consistent snapshot of the store; store failures become DlsExceptions.</summary>
    public T QuerySnapshot<T>(Func<UnitOfWork, T> work) => Run(BeginSnapshot(), work, commit: false);

    /// <summary>
    /// Opens a write unit that begins its transaction only when first used, and again after each commit: the
    /// listener's writer keeps one over many batches without holding the write lock between them.
    /// </summary>
    public UnitOfWork OpenWriter() => Begin(write: true, beginNow: false);

    /// <summary>Runs <paramref name="work"/> in one write unit of work and commits it; store failures become DlsExceptions.</summary>
    public T Write<T>(Func<UnitOfWork, T> work) => Run(BeginWrite(), work, commit: true);

    /// <summary>Runs <paramref name="work"/> in one write unit of work and commits it.</summary>
    public void Write(Action<UnitOfWork> work) =>
        Write<object?>(unit =>
        {
            work(unit);
            return null;
        });

    /// <summary>Runs <paramref name="work"/> in a read unit of work; store failures become DlsExceptions.</summary>
    public T Query<T>(Func<UnitOfWork, T> work) => Run(BeginRead(), work, commit: false);

    /// <summary>Runs <paramref name="work"/> in <paramref name="unit"/> (committing it when asked) and disposes it; store failures become DlsExceptions.</summary>
    private static T Run<T>(UnitOfWork unit, Func<UnitOfWork, T> work, bool commit)
    {
        using (unit)
        {
            try
            {
                var result = work(unit);
                if (commit)
                {
                    unit.Commit();
                }

                return result;
            }
            catch (Exception error) when (unit.IsStoreFailure(error))
            {
                throw unit.Translate(error);
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> on the connection and open write transaction of one write unit, and commits it.</summary>
    /// <remarks>For code not yet moved behind the aggregate stores (and tests that look at tables); new code takes a <see cref="UnitOfWork"/>.</remarks>
    public T Write<T>(Func<DbConnection, DbTransaction, T> work) =>
        Write(unit =>
        {
            var sql = (SqlUnitOfWork)unit;
            return work(sql.Connection, sql.Transaction!);
        });

    public void Write(Action<DbConnection, DbTransaction> work) =>
        Write<object?>((c, t) =>
        {
            work(c, t);
            return null;
        });

    /// <summary>Runs <paramref name="work"/> on a fresh connection without a transaction (one consistent snapshot per statement).</summary>
    /// <remarks>For code not yet moved behind the aggregate stores; new code uses <see cref="Query{T}"/>.</remarks>
    public T Read<T>(Func<DbConnection, T> work) => Query(unit => work(((SqlUnitOfWork)unit).Connection));

    private SqlUnitOfWork Begin(bool write, bool beginNow)
    {
        var connection = OpenConnection();
        try
        {
            return connection is NpgsqlConnection npgsql
                ? PostgresUnitOfWork.Open(Stores, npgsql, write && beginNow, write, Path)
                : SqliteUnitOfWork.Open(Stores, (SqliteConnection)connection, write && beginNow, write, Path);
        }
        catch (DbException ex)
        {
            connection.Dispose();
            throw Translate(ex);
        }
    }

    private static void CreateFile(string full)
    {
        var folder = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        try
        {
            using var stream = new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite);
        }
        catch (IOException) when (File.Exists(full))
        {
            // Another process created it first: theirs is as good as ours.
        }

        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            // The store holds the server's private key.
            File.SetUnixFileMode(full, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private void EnsureSchemaTranslated(bool create)
    {
        using var connection = OpenConnection();
        try
        {
            if (connection is NpgsqlConnection npgsql)
            {
                PostgresSchema.Ensure(npgsql, Migrations, Path, create);
            }
            else
            {
                SqliteSchema.Ensure((SqliteConnection)connection, Migrations, Path);
            }
        }
        catch (DbException ex)
        {
            throw Translate(ex);
        }
    }

    /// <summary>
    /// A read-only connection to a store in WAL mode creates the '-wal' and '-shm' files beside it when they are
    /// missing (and leaves them, owned by whoever looked). When they are missing no one has the store open, so the
    /// file is opened as immutable instead: SQLite then reads it without creating or locking anything. A writer that
    /// opens the store meanwhile can at worst make that one lookup fail or miss its newest change.
    /// </summary>
    private static string ReadOnlyDataSource(string path) =>
        File.Exists(path + "-wal") || File.Exists(path + "-shm")
            ? path
            : new Uri(System.IO.Path.GetFullPath(path)).AbsoluteUri + "?immutable=1";

    private static TimeSpan ConfiguredBusyTimeout() =>
        int.TryParse(Environment.GetEnvironmentVariable("DLS_BUSY_TIMEOUT_SECONDS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) &&
        seconds is >= 1 and <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(30);
}
