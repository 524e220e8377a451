using System.Runtime.InteropServices;
using Dls.Core.Errors;
using Dls.Core.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// The SQLite file shared by the cmdlets and the listener. Hands out one pooled connection per
/// operation with WAL, a busy timeout and foreign keys set, and brings the schema up to date when opened.
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
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = readOnly ? ReadOnlyDataSource(path) : path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite,
            // A read-only look (tab completion) keeps no file open once it is done.
            Pooling = !readOnly,
            DefaultTimeout = Math.Max(1, (int)_busyTimeout.TotalSeconds),
        }.ToString();
    }

    public string Path { get; }

    /// <summary>The schema version this build writes.</summary>
    public static int SchemaVersion => Migrations.Length == 0 ? 0 : Migrations[^1].Version;

    /// <summary>Opens an existing store; <c>StoreNotFound</c> when there is no file at <paramref name="path"/>.</summary>
    public static DlsStore Open(string? path)
    {
        var full = StorePaths.Resolve(path);
        if (!File.Exists(full))
        {
            throw new DlsException(
                ErrorIds.StoreNotFound,
                DlsErrorKind.NotFound,
                $"There is no DLS store at '{full}'. Run Initialize-DlsServer -StorePath '{full}' first.",
                full);
        }

        var store = new DlsStore(full);
        store.EnsureSchemaTranslated();
        return store;
    }

    /// <summary>
    /// Opens an existing store for reading only, for lookups that must never change anything (tab completion): the
    /// file is opened in SQLite's read-only mode, never created, migrated or written, and a lock is waited for at most
    /// <paramref name="busyTimeout"/>. Null when there is no file at <paramref name="path"/> or its schema is not the
    /// one this build writes (older stores are left for a cmdlet to bring up to date).
    /// </summary>
    public static DlsStore? TryOpenReadOnly(string path, TimeSpan busyTimeout)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var store = new DlsStore(path, readOnly: true, busyTimeout);
        try
        {
            using var connection = store.OpenConnection();
            var current = ReadUserVersion(connection) == SchemaVersion && Missing(AppliedVersions(connection, null)).Count == 0;
            return current ? store : null;
        }
        catch (SqliteException ex)
        {
            throw StoreFailures.Translate(ex, path);
        }
    }

    /// <summary>Opens the store, creating the file (owner-only) and its folder when missing.</summary>
    public static DlsStore OpenOrCreate(string? path)
    {
        var full = StorePaths.Resolve(path);
        if (!File.Exists(full))
        {
            CreateFile(full);
        }

        var store = new DlsStore(full);
        store.EnsureSchemaTranslated();
        return store;
    }

    public SqliteConnection OpenConnection()
    {
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

    /// <summary>The aggregate stores of this store's engine; their methods take a unit of work of this store.</summary>
    internal AggregateStores Stores => SqliteStores.All;

    /// <summary>Opens a unit of work whose write transaction (BEGIN IMMEDIATE) is open; dispose it without <see cref="UnitOfWork.Commit"/> to roll back.</summary>
    public UnitOfWork BeginWrite() => Begin(write: true, beginNow: true);

    /// <summary>Opens a unit of work that reads, each statement on its own snapshot.</summary>
    public UnitOfWork BeginRead() => Begin(write: false, beginNow: false);

    /// <summary>Opens a unit of work that reads one consistent snapshot (a read transaction) until disposed.</summary>
    public UnitOfWork BeginSnapshot()
    {
        var unit = Begin(write: false, beginNow: false);
        try
        {
            SqliteUnitOfWork.Of(unit).BeginSnapshot();
            return unit;
        }
        catch (SqliteException ex)
        {
            unit.Dispose();
            throw StoreFailures.Translate(ex, Path);
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

    /// <summary>Runs <paramref name="work"/> in one write transaction (BEGIN IMMEDIATE) and commits it.</summary>
    /// <remarks>For code not yet moved behind the aggregate stores; new code takes a <see cref="UnitOfWork"/>.</remarks>
    public T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work) =>
        Write(unit =>
        {
            var sqlite = SqliteUnitOfWork.Of(unit);
            return work(sqlite.Connection, sqlite.Transaction!);
        });

    public void Write(Action<SqliteConnection, SqliteTransaction> work) =>
        Write<object?>((c, t) =>
        {
            work(c, t);
            return null;
        });

    /// <summary>Runs <paramref name="work"/> on a fresh connection without a transaction (one consistent snapshot per statement).</summary>
    /// <remarks>For code not yet moved behind the aggregate stores; new code uses <see cref="Query{T}"/>.</remarks>
    public T Read<T>(Func<SqliteConnection, T> work) => Query(unit => work(SqliteUnitOfWork.Of(unit).Connection));

    private SqliteUnitOfWork Begin(bool write, bool beginNow)
    {
        var connection = OpenConnection();
        try
        {
            var unit = SqliteUnitOfWork.Open(Stores, connection, write && beginNow, write, Path);
            return unit;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw StoreFailures.Translate(ex, Path);
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

    private void EnsureSchemaTranslated()
    {
        try
        {
            EnsureSchema();
        }
        catch (SqliteException ex)
        {
            throw StoreFailures.Translate(ex, Path);
        }
    }

    /// <summary>
    /// Applies every known migration the store lacks, in version order. Applied versions are recorded one by one
    /// (table <c>schema_migration</c>), not only as the highest number, so a migration numbered below one already
    /// applied (work developed side by side) is still applied. <c>PRAGMA user_version</c> mirrors the highest.
    /// </summary>
    private void EnsureSchema()
    {
        using var connection = OpenConnection();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        CheckedUserVersion(connection, null);
        if (Missing(AppliedVersions(connection, null)).Count == 0)
        {
            return;
        }

        // BEGIN IMMEDIATE: two processes opening a new store at once migrate it one after the other.
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var ledger = connection.CreateCommand())
        {
            ledger.Transaction = transaction;
            ledger.CommandText = "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);";
            ledger.ExecuteNonQuery();
        }

        foreach (var migration in Missing(AppliedVersions(connection, transaction)))
        {
            migration.Apply(connection, transaction);
            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO schema_migration (version, description, applied_at) VALUES ($version, $description, $now);";
            record.Parameters.AddWithValue("$version", migration.Version);
            record.Parameters.AddWithValue("$description", migration.Description);
            record.Parameters.AddWithValue("$now", Timestamps.Format(DateTimeOffset.UtcNow));
            record.ExecuteNonQuery();
        }

        using (var setVersion = connection.CreateCommand())
        {
            setVersion.Transaction = transaction;
            setVersion.CommandText = $"PRAGMA user_version = {SchemaVersion};";
            setVersion.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static List<Migration> Missing(IReadOnlySet<int> applied) => Migrations.Where(m => !applied.Contains(m.Version)).ToList();

    /// <summary>The versions recorded as applied; a store from before the ledger counts every version up to its user_version.</summary>
    private static IReadOnlySet<int> AppliedVersions(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration';";
        var hasLedger = Convert.ToInt64(command.ExecuteScalar()) == 1;
        var applied = new HashSet<int>();
        if (hasLedger)
        {
            command.CommandText = "SELECT version FROM schema_migration;";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                applied.Add(reader.GetInt32(0));
            }

            return applied;
        }

        command.CommandText = "PRAGMA user_version;";
        var userVersion = Convert.ToInt32(command.ExecuteScalar());
        applied.UnionWith(Migrations.Select(m => m.Version).Where(v => v <= userVersion));
        return applied;
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

    private static int ReadUserVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar());
    }

    private static TimeSpan ConfiguredBusyTimeout() =>
        int.TryParse(Environment.GetEnvironmentVariable("DLS_BUSY_TIMEOUT_SECONDS"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) &&
        seconds is >= 1 and <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(30);

    private int CheckedUserVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt32(command.ExecuteScalar());
        if (version > SchemaVersion)
        {
            throw new DlsException(
                ErrorIds.StoreTooNew,
                DlsErrorKind.InvalidOperation,
                $"The store '{Path}' has schema version {version}, newer than this DLS ({SchemaVersion}). Update DLS.",
                Path);
        }

        return version;
    }
}
