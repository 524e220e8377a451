using System.Globalization;
using Dls.Core.Alerts;
using Dls.Core.Audit;
using Dls.Core.Errors;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// Puts a pg_dump archive written by Backup-DlsStore in place as a PostgreSQL store. The archive is read first, without
/// touching the database — a DLS store's tables, a schema this build reads, a server identity, secrets its key file
/// opens — and only then restored by <c>pg_restore --clean --single-transaction</c>, which replaces the store's tables
/// whole or not at all: a refused or failed restore leaves the database and its key file as they were.
/// </summary>
internal static class PostgresRestore
{
    /// <summary>Restores <paramref name="backup"/> (a full path) onto the store of <paramref name="uri"/>, brings it to this build's schema and audit-logs it.</summary>
    public static DlsStore Restore(string backup, string uri, TimeProvider time, PostgresTools tools)
    {
        if (!PostgresArchive.LooksLikeOne(backup))
        {
            if (PostgresArchive.Begins(backup, "SQLite format 3\0"u8))
            {
                throw StoreRestore.EngineMismatch(backup, "a backup of a SQLite store", uri, "a PostgreSQL store");
            }

            throw StoreRestore.Invalid(backup, "it is neither a pg_dump archive (what Backup-DlsStore writes of a PostgreSQL store) nor a SQLite store backup", null);
        }

        var (archive, problem) = PostgresArchive.Open(backup, tools);
        if (archive is null)
        {
            throw StoreRestore.Invalid(backup, $"pg_restore cannot read it ({problem.TrimEnd('.')})", null);
        }

        var (signingKey, alertSecrets) = Check(archive);

        // The key file: the backup's own, else the target's (a backup restored into the store it came from). It is
        // staged beside the target's key file and checked against the archive's secrets before anything changes.
        var targetKey = StoreBackup.SecretsKeyPath(uri);
        var folder = Path.GetDirectoryName(targetKey)!;
        StoreRestore.CreateOwnerOnlyFolder(folder);
        var staged = Path.Combine(folder, $".{Path.GetFileName(targetKey)}.restore-{Guid.NewGuid():N}");
        var stagedKey = StoreBackup.SecretsKeyPath(staged);
        var backupKey = StoreBackup.SecretsKeyPath(backup);
        var keySource = File.Exists(backupKey) ? backupKey : File.Exists(targetKey) ? targetKey : null;
        try
        {
            if (keySource is not null)
            {
                OwnerOnlyFile.Copy(keySource, stagedKey);
            }

            StoreRestore.CheckSecretsOpen(staged, backup, keySource == backupKey, signingKey, alertSecrets);

            // This process's idle connections hold nothing, but they would see tables that are about to go.
            NpgsqlConnection.ClearAllPools();
            var tablesBefore = Tables(uri);
            tools.Restore(uri, backup);
            if (tablesBefore.Contains("schema_migration"))
            {
                Drop(uri, tablesBefore.Where(table => !archive.Tables.Contains(table)));
            }

            if (File.Exists(stagedKey))
            {
                File.Move(stagedKey, targetKey, overwrite: true);
            }
        }
        finally
        {
            File.Delete(stagedKey);
        }

        // The backup may be of an older schema: bring it up to date, then record the restore in the restored log.
        var restored = DlsStore.Open(uri);
        restored.Write((connection, transaction) => AuditLog.Write(connection, transaction, time.GetUtcNow(), "Store.Restore", PostgresUri.Redacted(uri), $"from={backup}"));
        return restored;
    }

    /// <summary>Refuses an archive that is not of a DLS store this build reads; returns the secrets its key file must open.</summary>
    private static (byte[]? SigningKey, List<(string Name, string Value)> AlertSecrets) Check(PostgresArchive archive)
    {
        var backup = archive.Path;
        const string kind = "a pg_dump archive";
        if (!archive.Tables.Contains("schema_migration") || !archive.Tables.Contains("server"))
        {
            throw StoreRestore.NotDls(backup, kind, "it holds no DLS schema (no schema_migration and server tables)");
        }

        var versions = archive.Rows("schema_migration")
            .Select(row => int.TryParse(row.GetValueOrDefault("version"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var version) ? version : 0)
            .ToList();
        if (versions.Count == 0 || versions.Max() < 1)
        {
            throw StoreRestore.NotDls(backup, kind, "its schema_migration table records no migration");
        }

        StoreRestore.RefuseNewer(backup, versions.Max());

        var server = archive.Rows("server").FirstOrDefault(row => row.GetValueOrDefault("id") == "1");
        var signingKey = PostgresArchive.Bytes(server?.GetValueOrDefault("private_key"));
        if (server is null || string.IsNullOrEmpty(server.GetValueOrDefault("uuid")) || signingKey is null)
        {
            throw StoreRestore.NotDls(backup, kind, "it holds no server identity (a store that was never initialized)");
        }

        var alertSecrets = new List<(string Name, string Value)>();
        if (archive.Tables.Contains("alert_setting"))
        {
            foreach (var row in archive.Rows("alert_setting"))
            {
                if (row.GetValueOrDefault("name") is AlertSettingsService.SmtpPasswordKey or AlertSettingsService.WebhookSecretKey && row.GetValueOrDefault("value") is { } value)
                {
                    alertSecrets.Add((row["name"]!, value));
                }
            }
        }

        return (signingKey, alertSecrets);
    }

    /// <summary>The tables of the store's schema in its database.</summary>
    private static HashSet<string> Tables(string uri)
    {
        try
        {
            return TablesOf(uri);
        }
        catch (NpgsqlException error)
        {
            throw PostgresFailures.Translate(error, uri);
        }
    }

    private static HashSet<string> TablesOf(string uri)
    {
        using var connection = new NpgsqlConnection(PostgresUri.ConnectionString(uri, DlsStore.BusyTimeout));
        connection.Open();
        using var list = connection.CreateCommand();
        list.CommandText = "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema();";
        using var reader = list.ExecuteReader();
        var tables = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    /// <summary>
    /// Drops the tables a DLS store had before the restore that the archive does not hold: those of migrations newer
    /// than the backup, which pg_restore --clean (it drops only what the archive creates) would leave, and over which
    /// opening the restored store could not migrate it from the backup's schema as it does on SQLite.
    /// </summary>
    private static void Drop(string uri, IEnumerable<string> leftovers)
    {
        try
        {
            DropEach(uri, leftovers);
        }
        catch (NpgsqlException error)
        {
            throw PostgresFailures.Translate(error, uri);
        }
    }

    private static void DropEach(string uri, IEnumerable<string> leftovers)
    {
        using var connection = new NpgsqlConnection(PostgresUri.ConnectionString(uri, DlsStore.BusyTimeout));
        connection.Open();
        using var transaction = connection.BeginTransaction();
        foreach (var table in leftovers)
        {
            using var drop = connection.CreateCommand();
            drop.Transaction = transaction;
            // Names read from the catalog, quoted as identifiers: DROP TABLE takes no parameters.
            drop.CommandText = $"DROP TABLE IF EXISTS \"{table.Replace("\"", "\"\"", StringComparison.Ordinal)}\" CASCADE;";
            drop.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}
