using Dls.Core.Alerts;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Storage.Postgres;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage;

/// <summary>
/// Puts a backup in place as the store at a path, with or without a store there already (a new machine). The backup
/// and its secrets key are first copied to temporary files in the target folder and checked there — a sound SQLite
/// file, a DLS store with a server identity, a schema this build reads, secrets the key opens — and only then renamed
/// over the store: a refused backup leaves the target as it was, byte for byte, and no restore leaves half a store.
/// The caller makes sure no listener serves the target; another process holding it open is refused as busy.
/// A PostgreSQL store takes a pg_dump archive instead (<see cref="PostgresRestore"/>); a backup of one engine is
/// refused by a store of the other.
/// </summary>
public static class StoreRestore
{
    private static readonly TimeSpan RetireTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Restores the backup at <paramref name="backupPath"/> (and the <c>.secrets.key</c> file beside it) as the store
    /// at <paramref name="storePath"/> (a SQLite file, or a <c>postgresql://</c> URI whose database exists), brings it
    /// to this build's schema and records the restore in its audit log.
    /// </summary>
    /// <returns>The restored store, opened.</returns>
    public static DlsStore Restore(string backupPath, string storePath, TimeProvider time) => Restore(backupPath, storePath, time, postgresToolFolder: null);

    /// <inheritdoc cref="Restore(string, string, TimeProvider)"/>
    /// <param name="postgresToolFolder">The folder to take pg_restore from, instead of searching for it (tests).</param>
    internal static DlsStore Restore(string backupPath, string storePath, TimeProvider time, string? postgresToolFolder)
    {
        var backup = Path.GetFullPath(backupPath);
        var target = StorePaths.Resolve(storePath);
        if (!File.Exists(backup))
        {
            throw new DlsException(ErrorIds.BackupNotFound, DlsErrorKind.NotFound, $"There is no backup at '{backup}'.", backup);
        }

        if (string.Equals(backup, target, StringComparison.Ordinal))
        {
            throw new DlsException(ErrorIds.BackupIsStore, DlsErrorKind.InvalidArgument, "A store cannot be restored from itself.", backup);
        }

        if (Postgres.PostgresUri.IsUri(target))
        {
            return PostgresRestore.Restore(backup, target, time, new PostgresTools(postgresToolFolder));
        }

        if (PostgresArchive.LooksLikeOne(backup))
        {
            throw EngineMismatch(backup, "a pg_dump archive of a PostgreSQL store", target, "a SQLite store");
        }

        var folder = Path.GetDirectoryName(target)!;
        // The outermost folder this restore creates: a refused restore removes it again.
        string? createdFolder = null;
        for (var missing = folder; missing is not null && !Directory.Exists(missing); missing = Path.GetDirectoryName(missing))
        {
            createdFolder = missing;
        }

        CreateOwnerOnlyFolder(folder);

        // Hidden names in the target folder: the final rename stays within one file system, so it is atomic.
        var staged = Path.Combine(folder, $".{Path.GetFileName(target)}.restore-{Guid.NewGuid():N}");
        var stagedKey = StoreBackup.SecretsKeyPath(staged);
        var targetKey = StoreBackup.SecretsKeyPath(target);
        var retiredKey = staged + ".previous-key";
        var placedKey = false;
        try
        {
            OwnerOnlyFile.Copy(backup, staged);

            // The backup's own key file; without one, the target's (a backup restored into the store it came from).
            var backupKey = StoreBackup.SecretsKeyPath(backup);
            var keySource = File.Exists(backupKey) ? backupKey : File.Exists(targetKey) ? targetKey : null;
            if (keySource is not null)
            {
                OwnerOnlyFile.Copy(keySource, stagedKey);
            }

            Check(staged, backup, keySource == backupKey);
            RetireWriteAheadLog(target);

            if (File.Exists(stagedKey))
            {
                if (File.Exists(targetKey))
                {
                    File.Move(targetKey, retiredKey);
                }

                File.Move(stagedKey, targetKey);
                placedKey = true;
            }

            File.Move(staged, target, overwrite: true);
        }
        catch
        {
            // The old store stays: so does the key that opens its secrets (or none, if it had none).
            if (File.Exists(retiredKey))
            {
                File.Move(retiredKey, targetKey, overwrite: true);
            }
            else if (placedKey)
            {
                File.Delete(targetKey);
            }

            foreach (var leftover in new[] { staged, stagedKey, staged + "-journal", staged + "-wal", staged + "-shm" })
            {
                File.Delete(leftover);
            }

            if (createdFolder is not null && !Directory.EnumerateFiles(createdFolder, "*", SearchOption.AllDirectories).Any())
            {
                Directory.Delete(createdFolder, recursive: true);
            }

            throw;
        }

        File.Delete(retiredKey);

        // The backup may be of an older schema: bring it up to date, then record the restore in the restored log.
        var restored = DlsStore.Open(target);
        restored.Write((connection, transaction) => AuditLog.Write(connection, transaction, time.GetUtcNow(), "Store.Restore", target, $"from={backup}"));
        return restored;
    }

    /// <summary>Refuses the staged copy unless it is a sound DLS store this build reads, whose secrets its key file opens.</summary>
    private static void Check(string staged, string backup, bool ownKey)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = staged, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        int version;
        byte[]? signingKey;
        var alertSecrets = new List<(string Name, string Value)>();
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();

            // A copy of a store in WAL mode comes without its -wal file: what it holds is what it is. The staged file
            // is put in place in rollback mode, like every backup, and the store switches it back to WAL when opened.
            command.CommandText = "PRAGMA journal_mode = DELETE;";
            command.ExecuteNonQuery();

            command.CommandText = "PRAGMA integrity_check;";
            var problems = new List<string>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    problems.Add(reader.GetString(0));
                }
            }

            if (problems is not ["ok"])
            {
                throw Invalid(backup, $"SQLite finds it damaged ({string.Join("; ", problems.Take(3))})", null);
            }

            command.CommandText = "PRAGMA user_version;";
            version = Convert.ToInt32(command.ExecuteScalar());
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'server';";
            if (version < 1 || Convert.ToInt64(command.ExecuteScalar()) != 1)
            {
                throw NotDls(backup, "an SQLite database", "it has no DLS schema");
            }

            RefuseNewer(backup, version);

            command.CommandText = "SELECT count(*) FROM server WHERE id = 1 AND uuid IS NOT NULL AND private_key IS NOT NULL;";
            if (Convert.ToInt64(command.ExecuteScalar()) != 1)
            {
                throw NotDls(backup, "an SQLite database", "it holds no server identity (a store that was never initialized)");
            }

            command.CommandText = "SELECT private_key FROM server WHERE id = 1;";
            signingKey = command.ExecuteScalar() as byte[];

            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alert_setting';";
            if (Convert.ToInt64(command.ExecuteScalar()) == 1)
            {
                command.CommandText = "SELECT name, value FROM alert_setting WHERE name IN ($password, $secret);";
                command.Parameters.AddWithValue("$password", AlertSettingsService.SmtpPasswordKey);
                command.Parameters.AddWithValue("$secret", AlertSettingsService.WebhookSecretKey);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    alertSecrets.Add((reader.GetString(0), reader.GetString(1)));
                }
            }
        }
        catch (SqliteException error)
        {
            throw Invalid(backup, error.Message.TrimEnd('.'), error);
        }

        CheckSecretsOpen(staged, backup, ownKey, signingKey, alertSecrets);
    }

    /// <summary>Refuses a backup of a schema newer than this build reads.</summary>
    internal static void RefuseNewer(string backup, int version)
    {
        if (version > DlsStore.SchemaVersion)
        {
            throw new DlsException(
                ErrorIds.BackupTooNew,
                DlsErrorKind.InvalidData,
                $"'{backup}' was written by a newer DLS (schema {version}, this one reads up to {DlsStore.SchemaVersion}). Restore it with that version or a later one.",
                backup);
        }
    }

    /// <summary>
    /// The key file that will sit beside the restored store (staged beside the copy) must open the sealed signing key
    /// and alert secrets: a store restored without it could not sign authorizations nor send its alerts.
    /// </summary>
    internal static void CheckSecretsOpen(string staged, string backup, bool ownKey, byte[]? signingKey, List<(string Name, string Value)> alertSecrets)
    {
        var backupKey = StoreBackup.SecretsKeyPath(backup);
        var protector = new SecretProtector(staged);
        try
        {
            // Before schema 64 the signing key was kept in plain: migration 64 seals it once the store is in place.
            if (signingKey is not null && SecretProtector.IsProtected(signingKey))
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(protector.UnprotectSigningKey(signingKey));
            }

            foreach (var (name, value) in alertSecrets)
            {
                _ = protector.Unprotect(name, value);
            }
        }
        catch (DlsException error) when (!ownKey || error.ErrorId is ErrorIds.SigningKeySecretsKeyMissing or ErrorIds.AlertSecretKeyMissing)
        {
            // Without its own key file beside it, a backup can only be opened by the key of the store it came from.
            throw new DlsException(
                ErrorIds.BackupSecretsKeyMissing,
                DlsErrorKind.InvalidData,
                $"The secrets in '{backup}' (the server's signing key, the alert secrets) are encrypted with the key file written beside the backup ('{backupKey}'), which is not there. "
                + "Put it beside the backup and restore again; nothing was changed.",
                backup,
                error);
        }
        catch (DlsException error) when (error.ErrorId is ErrorIds.SigningKeyUnreadable or ErrorIds.SigningKeySecretsKeyInvalid
            or ErrorIds.AlertSecretUnreadable or ErrorIds.AlertSecretKeyInvalid)
        {
            throw new DlsException(
                ErrorIds.BackupSecretsKeyInvalid,
                DlsErrorKind.InvalidData,
                $"The secrets in '{backup}' (the server's signing key, the alert secrets) cannot be decrypted with the key file beside it ('{backupKey}'): it belongs to another store or was replaced. "
                + "Put the '.secrets.key' file written with this backup beside it and restore again; nothing was changed.",
                backup,
                error);
        }
    }

    /// <summary>
    /// Folds the write-ahead log of the store about to be replaced into its file and removes it (and its shared-memory
    /// index): a log left beside the restored file would be replayed into it. Switching out of WAL mode needs the only
    /// connection to the file, which also proves that no other process has the store open.
    /// </summary>
    private static void RetireWriteAheadLog(string target)
    {
        if (File.Exists(target))
        {
            // This process's own idle pooled connections would count as other users of the file.
            SqliteConnection.ClearAllPools();
            try
            {
                // A short wait: a cmdlet in another session finishes in that time, a listener or an open session does not.
                using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = (int)RetireTimeout.TotalSeconds }.ToString());
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode = DELETE;";
                var mode = command.ExecuteScalar() as string;
                if (!string.Equals(mode, "delete", StringComparison.OrdinalIgnoreCase))
                {
                    throw Busy(target, null);
                }
            }
            catch (SqliteException error)
            {
                var translated = StoreFailures.Translate(error, target);
                if (translated.ErrorId is ErrorIds.StoreBusy)
                {
                    throw Busy(target, error);
                }

                if (translated.ErrorId is not ErrorIds.StoreCorrupt)
                {
                    throw translated;
                }

                // A damaged store is what a restore is for: its log goes with it.
            }
        }

        File.Delete(target + "-wal");
        File.Delete(target + "-shm");
    }

    private static DlsException Busy(string target, Exception? inner) => new(
        ErrorIds.StoreBusy,
        DlsErrorKind.ResourceUnavailable,
        $"The DLS store '{target}' is open in another process (a listener, another PowerShell session) and stayed open for {RetireTimeout.TotalSeconds:0} s: close it and restore again; nothing was changed.",
        target,
        inner);

    internal static DlsException Invalid(string backup, string why, Exception? inner) => new(
        ErrorIds.BackupInvalid,
        DlsErrorKind.InvalidData,
        $"'{backup}' is not a usable DLS store backup: {why}. Nothing was changed.",
        backup,
        inner);

    /// <param name="kind">What the file is (<c>an SQLite database</c>, <c>a pg_dump archive</c>).</param>
    internal static DlsException NotDls(string backup, string kind, string why) => new(
        ErrorIds.BackupNotDls,
        DlsErrorKind.InvalidData,
        $"'{backup}' is {kind} but not a DLS store backup: {why}. Nothing was changed.",
        backup);

    /// <summary>A backup of one engine offered to a store of the other: a copy between engines is not what a restore does.</summary>
    internal static DlsException EngineMismatch(string backup, string backupKind, string target, string targetKind) => new(
        ErrorIds.BackupEngineMismatch,
        DlsErrorKind.InvalidArgument,
        $"'{backup}' is {backupKind}, and '{(Postgres.PostgresUri.IsUri(target) ? Postgres.PostgresUri.Redacted(target) : target)}' is {targetKind}: "
        + "a backup is restored onto a store of its own engine only (copying a store from one engine to the other is not supported). Nothing was changed.",
        backup);

    internal static void CreateOwnerOnlyFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
