using System.Runtime.InteropServices;
using Dls.Core.Errors;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// The SQLite file shared by the cmdlets and the listener. Hands out one pooled connection per
/// operation with WAL, a busy timeout and foreign keys set, and brings the schema up to date when opened.
/// </summary>
public sealed class DlsStore
{
    /// <summary>How long a writer waits for another process's write lock before giving up.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private static readonly Migration[] Migrations = typeof(Migration).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(Migration)) && !t.IsAbstract)
        .Select(t => (Migration)Activator.CreateInstance(t, nonPublic: true)!)
        .OrderBy(m => m.Version)
        .ToArray();

    private readonly string _connectionString;

    private DlsStore(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
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
                "StoreNotFound",
                DlsErrorKind.NotFound,
                $"There is no DLS store at '{full}'. Run Initialize-DlsServer -StorePath '{full}' first.",
                full);
        }

        var store = new DlsStore(full);
        store.EnsureSchema();
        return store;
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
        store.EnsureSchema();
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
                $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new DlsException(
                "StoreUnavailable",
                DlsErrorKind.ResourceUnavailable,
                $"The DLS store '{Path}' could not be opened: {ex.Message}",
                Path,
                ex);
        }
    }

    /// <summary>Runs <paramref name="work"/> in one write transaction (BEGIN IMMEDIATE) and commits it.</summary>
    public T Write<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        using var connection = OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        var result = work(connection, transaction);
        transaction.Commit();
        return result;
    }

    public void Write(Action<SqliteConnection, SqliteTransaction> work) =>
        Write<object?>((c, t) =>
        {
            work(c, t);
            return null;
        });

    /// <summary>Runs <paramref name="work"/> on a fresh connection without a transaction (one consistent snapshot per statement).</summary>
    public T Read<T>(Func<SqliteConnection, T> work)
    {
        using var connection = OpenConnection();
        return work(connection);
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

    private void EnsureSchema()
    {
        using var connection = OpenConnection();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        if (CheckedUserVersion(connection, null) == SchemaVersion)
        {
            return;
        }

        // BEGIN IMMEDIATE: two processes opening a new store at once migrate it one after the other.
        using var transaction = connection.BeginTransaction(deferred: false);
        var current = CheckedUserVersion(connection, transaction);

        foreach (var migration in Migrations.Where(m => m.Version > current))
        {
            migration.Apply(connection, transaction);
            using var setVersion = connection.CreateCommand();
            setVersion.Transaction = transaction;
            setVersion.CommandText = $"PRAGMA user_version = {migration.Version};";
            setVersion.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private int CheckedUserVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt32(command.ExecuteScalar());
        if (version > SchemaVersion)
        {
            throw new DlsException(
                "StoreTooNew",
                DlsErrorKind.InvalidOperation,
                $"The store '{Path}' has schema version {version}, newer than this DLS ({SchemaVersion}). Update DLS.",
                Path);
        }

        return version;
    }
}
