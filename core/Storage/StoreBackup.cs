using Dls.Core.Audit;
using Dls.Core.Errors;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// Consistent copies of a live store with SQLite's online backup: the listener may keep writing while a
/// backup is taken, and a restore replaces the content page by page inside SQLite's own locking.
/// </summary>
public sealed class StoreBackup(DlsStore store, TimeProvider time)
{
    /// <summary>Writes a consistent copy of the store to <paramref name="path"/> (refuses to overwrite unless <paramref name="overwrite"/>).</summary>
    public FileInfo Backup(string path, bool overwrite)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full) && !overwrite)
        {
            throw new DlsException("BackupExists", DlsErrorKind.AlreadyExists, $"'{full}' already exists; use -Force to overwrite it.", full);
        }

        if (string.Equals(full, store.Path, StringComparison.Ordinal))
        {
            throw new DlsException("BackupIsStore", DlsErrorKind.InvalidArgument, "A backup cannot be written over the store itself.", full);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".partial";
        File.Delete(temporary);
        using (var source = store.OpenConnection())
        using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = temporary, Pooling = false }.ToString()))
        {
            destination.Open();
            source.BackupDatabase(destination);
            using var journal = destination.CreateCommand();
            journal.CommandText = "PRAGMA journal_mode = DELETE;";
            journal.ExecuteNonQuery();
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, full, overwrite: true);

        // The key that decrypts the alert secrets lives beside the store, never in it: it travels beside the backup.
        CopyOwnerOnly(SecretsKeyPath(store.Path), SecretsKeyPath(full));
        store.Write((connection, transaction) => AuditLog.Write(connection, transaction, time.GetUtcNow(), "Store.Backup", full));
        return new FileInfo(full);
    }

    /// <summary>Where the key of a store's protected settings is kept (see Alerts.SecretProtector).</summary>
    public static string SecretsKeyPath(string storePath) => storePath + ".secrets.key";

    private static void CopyOwnerOnly(string from, string to)
    {
        if (!File.Exists(from))
        {
            return;
        }

        File.Copy(from, to, overwrite: true);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(to, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>
    /// Replaces the store's content with the backup at <paramref name="path"/> after checking it is a DLS store
    /// this version can read. The caller makes sure no listener is running.
    /// </summary>
    public void Restore(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new DlsException("BackupNotFound", DlsErrorKind.NotFound, $"There is no backup at '{full}'.", full);
        }

        using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        try
        {
            source.Open();
            using var check = source.CreateCommand();
            check.CommandText = "PRAGMA user_version;";
            var version = Convert.ToInt32(check.ExecuteScalar());
            check.CommandText = "SELECT count(*) FROM server;";
            var servers = Convert.ToInt64(check.ExecuteScalar());
            if (version < 1 || servers != 1)
            {
                throw new DlsException("BackupInvalid", DlsErrorKind.InvalidData, $"'{full}' is not a DLS store backup.", full);
            }

            if (version > DlsStore.SchemaVersion)
            {
                throw new DlsException("BackupTooNew", DlsErrorKind.InvalidData, $"'{full}' was written by a newer DLS (schema {version}, this one reads up to {DlsStore.SchemaVersion}).", full);
            }
        }
        catch (SqliteException error)
        {
            throw new DlsException("BackupInvalid", DlsErrorKind.InvalidData, $"'{full}' is not a DLS store backup: {error.Message}", full, error);
        }

        using (var destination = store.OpenConnection())
        {
            source.BackupDatabase(destination);
        }

        CopyOwnerOnly(SecretsKeyPath(full), SecretsKeyPath(store.Path));

        // The backup may be of an older schema: bring it up to date, then record the restore in the restored log.
        var restored = DlsStore.Open(store.Path);
        restored.Write((connection, transaction) => AuditLog.Write(connection, transaction, time.GetUtcNow(), "Store.Restore", store.Path, $"from={full}"));
    }
}
