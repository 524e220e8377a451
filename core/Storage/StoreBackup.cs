using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage.Postgres;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// Consistent copies of a live store, the listeners writing on: SQLite's online backup of a SQLite store, a
/// <c>pg_dump --format=custom</c> archive of a PostgreSQL one (<see cref="PostgresTools"/>). Either way the store's
/// secrets key is copied beside the backup, and <see cref="StoreRestore"/> puts a backup back.
/// </summary>
public sealed class StoreBackup(DlsStore store, TimeProvider time)
{
    /// <summary>Writes a consistent copy of the store to <paramref name="path"/> (refuses to overwrite unless <paramref name="overwrite"/>).</summary>
    public FileInfo Backup(string path, bool overwrite)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full) && !overwrite)
        {
            throw new DlsException(ErrorIds.BackupExists, DlsErrorKind.AlreadyExists, $"'{full}' already exists; use -Force to overwrite it.", full);
        }

        if (string.Equals(full, store.Path, StringComparison.Ordinal))
        {
            throw new DlsException(ErrorIds.BackupIsStore, DlsErrorKind.InvalidArgument, "A backup cannot be written over the store itself.", full);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".partial";
        File.Delete(temporary);

        // The copy holds everything the store does: it is owner-only from its first byte. SQLite and pg_dump write into
        // the empty file created here (they would create a missing one with the umask's mode, readable by others until
        // a later chmod), and SQLite gives its journal beside it the same mode.
        OwnerOnlyFile.CreateNew(temporary).Dispose();
        try
        {
            PartialFileCreated?.Invoke(temporary);
            if (store.Engine == StoreEngine.PostgreSql)
            {
                // PostgreSQL's own consistent copy: pg_dump reads one snapshot while the listeners keep writing.
                new PostgresTools(PostgresToolFolder).Dump(store.Path, temporary);
            }
            else
            {
                CopySqlite(temporary);
            }

            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            // A failed backup leaves no partial copy of the store's content behind.
            File.Delete(temporary);
        }

        // The key that decrypts the store's secrets (the signing key, the alert secrets) is a file of its own (beside a
        // SQLite store, on each machine of a PostgreSQL one), never in the store: it travels beside the backup, or the
        // restored store could not sign.
        CopyOwnerOnly(SecretsKeyPath(store.Path), SecretsKeyPath(full));
        store.Write((connection, transaction) => AuditLog.Write(connection, transaction, time.GetUtcNow(), "Store.Backup", full));
        return new FileInfo(full);
    }

    /// <summary>SQLite's online backup of the store into the empty file at <paramref name="destinationPath"/>.</summary>
    private void CopySqlite(string destinationPath)
    {
        using var source = (SqliteConnection)store.OpenConnection();
        using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = destinationPath, Pooling = false }.ToString());
        destination.Open();
        source.BackupDatabase(destination);
        using var journal = destination.CreateCommand();
        journal.CommandText = "PRAGMA journal_mode = DELETE;";
        journal.ExecuteNonQuery();
    }

    /// <summary>Where the key of a store's secrets (the signing key, the alert secrets) is kept (see Alerts.SecretProtector).</summary>
    /// <remarks>
    /// A SQLite store's is beside its file. A PostgreSQL store's is a file of each machine that runs DLS against it: the one
    /// <c>DLS_SECRETS_KEY</c> names, else one named after the server and database in the default store folder
    /// (docs/high-availability.md: copy it to every machine of the store).
    /// </remarks>
    public static string SecretsKeyPath(string storePath) =>
        Postgres.PostgresUri.IsUri(storePath) ? Postgres.PostgresSecretsKey.Path(storePath) : storePath + ".secrets.key";

    /// <summary>Called with the path of the backup's partial file as soon as it exists, before any content is written (tests watch its mode).</summary>
    internal Action<string>? PartialFileCreated { get; init; }

    /// <summary>The folder to take pg_dump and pg_restore from on a PostgreSQL store, instead of searching for them (tests).</summary>
    internal string? PostgresToolFolder { get; init; }

    /// <summary>Copies a key file through an owner-only partial file, so no reader ever sees it readable by others or half written.</summary>
    private static void CopyOwnerOnly(string from, string to)
    {
        if (!File.Exists(from))
        {
            return;
        }

        var temporary = to + ".partial";
        File.Delete(temporary);
        try
        {
            using (var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read))
            using (var destination = OwnerOnlyFile.CreateNew(temporary))
            {
                source.CopyTo(destination);
                destination.Flush(flushToDisk: true);
            }

            File.Move(temporary, to, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Replaces this store with the backup at <paramref name="path"/> (see <see cref="StoreRestore"/>). The caller
    /// makes sure no listener is running.
    /// </summary>
    public void Restore(string path) => StoreRestore.Restore(path, store.Path, time, PostgresToolFolder);
}

/// <summary>Files that hold secrets, created readable and writable by their owner only from the start.</summary>
internal static class OwnerOnlyFile
{
    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> (it must not exist), owner-only from the first byte, flushed to disk.</summary>
    public static void Copy(string from, string to)
    {
        using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var destination = CreateNew(to);
        source.CopyTo(destination);
        destination.Flush(flushToDisk: true);
    }

    /// <summary>Creates <paramref name="path"/> (it must not exist) for writing: mode 0600 on Unix, an owner-only ACL on Windows.</summary>
    public static FileStream CreateNew(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return FileSystemAclExtensions.Create(
                new FileInfo(path), FileMode.CreateNew, System.Security.AccessControl.FileSystemRights.Write | System.Security.AccessControl.FileSystemRights.Read,
                FileShare.None, 4096, FileOptions.None, OwnerOnlySecurity());
        }

        // The mode is given to open(2) itself (the umask can only narrow it), so there is no moment when the file
        // exists with wider permissions.
        return new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
    }

    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static System.Security.AccessControl.FileSecurity OwnerOnlySecurity()
    {
        // Owner, SYSTEM and Administrators only; no inherited entries (%ProgramData% is readable by Users).
        var security = new System.Security.AccessControl.FileSecurity();
        security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
        var full = System.Security.AccessControl.FileSystemRights.FullControl;
        var allow = System.Security.AccessControl.AccessControlType.Allow;
        using var identity = System.Security.Principal.WindowsIdentity.GetCurrent();
        security.AddAccessRule(new(identity.User!, full, allow));
        security.AddAccessRule(new(new System.Security.Principal.SecurityIdentifier(System.Security.Principal.WellKnownSidType.LocalSystemSid, null), full, allow));
        security.AddAccessRule(new(new System.Security.Principal.SecurityIdentifier(System.Security.Principal.WellKnownSidType.BuiltinAdministratorsSid, null), full, allow));
        return security;
    }
}
