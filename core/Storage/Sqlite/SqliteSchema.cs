using Dls.Core.Errors;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Sqlite;

/// <summary>
/// Brings a SQLite store's schema up to date. Applied versions are recorded one by one (table <c>schema_migration</c>),
/// not only as the highest number, so a migration numbered below one already applied (work developed side by side) is
/// still applied. <c>PRAGMA user_version</c> mirrors the highest.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>Applies every migration the store lacks, in version order, in one BEGIN IMMEDIATE transaction.</summary>
    public static void Ensure(SqliteConnection connection, IReadOnlyList<Migration> migrations, string path)
    {
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        CheckedUserVersion(connection, null, path);
        if (Missing(migrations, AppliedVersions(connection, null, migrations)).Count == 0)
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

        foreach (var migration in Missing(migrations, AppliedVersions(connection, transaction, migrations)))
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
            setVersion.CommandText = $"PRAGMA user_version = {DlsStore.SchemaVersion};";
            setVersion.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    /// <summary>Whether the store's schema is the one this build writes (nothing to migrate).</summary>
    public static bool IsCurrent(SqliteConnection connection, IReadOnlyList<Migration> migrations) =>
        ReadUserVersion(connection) == DlsStore.SchemaVersion && Missing(migrations, AppliedVersions(connection, null, migrations)).Count == 0;

    private static List<Migration> Missing(IReadOnlyList<Migration> migrations, IReadOnlySet<int> applied) => migrations.Where(m => !applied.Contains(m.Version)).ToList();

    /// <summary>The versions recorded as applied; a store from before the ledger counts every version up to its user_version.</summary>
    private static IReadOnlySet<int> AppliedVersions(SqliteConnection connection, SqliteTransaction? transaction, IReadOnlyList<Migration> migrations)
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
        applied.UnionWith(migrations.Select(m => m.Version).Where(v => v <= userVersion));
        return applied;
    }

    private static int ReadUserVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar());
    }

    private static void CheckedUserVersion(SqliteConnection connection, SqliteTransaction? transaction, string path)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        var version = Convert.ToInt32(command.ExecuteScalar());
        if (version > DlsStore.SchemaVersion)
        {
            throw new DlsException(
                ErrorIds.StoreTooNew,
                DlsErrorKind.InvalidOperation,
                $"The store '{path}' has schema version {version}, newer than this DLS ({DlsStore.SchemaVersion}). Update DLS.",
                path);
        }
    }
}
