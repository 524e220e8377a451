using Dls.Core.Errors;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// Brings a PostgreSQL store's schema up to date: a database without DLS tables gets the baseline
/// (<see cref="PostgresBaseline"/>, recording every migration it holds as applied), then every migration above the
/// baseline it lacks runs, in version order, all in one transaction under an advisory lock so that two processes
/// opening a new store at once migrate it one after the other.
/// </summary>
internal static class PostgresSchema
{
    // Any fixed number; the lock is the database's, so two DLS stores in two databases never wait for one another.
    private const long MigrationLock = 0x444C535F4D494752; // "DLS_MIGR"

    /// <summary>Migrates the store; <paramref name="create"/> false: a database without a DLS store is StoreNotFound.</summary>
    public static void Ensure(NpgsqlConnection connection, IReadOnlyList<Migration> migrations, string uri, bool create)
    {
        var applied = AppliedVersions(connection, null);
        if (applied is not null && CheckedMissing(migrations, applied, uri).Count == 0)
        {
            return;
        }

        if (applied is null && !create)
        {
            throw new DlsException(
                ErrorIds.StoreNotFound,
                DlsErrorKind.NotFound,
                $"The PostgreSQL database of '{uri}' holds no DLS store. Run Initialize-DlsServer -StorePath '{uri}' first.",
                uri);
        }

        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock});");
        applied = AppliedVersions(connection, transaction);
        if (applied is null)
        {
            Execute(connection, transaction, PostgresBaseline.Sql);
            Execute(connection, transaction, "CREATE TABLE schema_migration (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);");
            foreach (var migration in migrations.Where(m => m.InPostgresBaseline))
            {
                Record(connection, transaction, migration, "baseline");
            }

            applied = AppliedVersions(connection, transaction)!;
        }

        foreach (var migration in CheckedMissing(migrations, applied, uri))
        {
            migration.ApplyPostgres(connection, transaction);
            Record(connection, transaction, migration, string.Empty);
        }

        transaction.Commit();
    }

    /// <summary>Whether the store's schema is the one this build writes (nothing to migrate).</summary>
    public static bool IsCurrent(NpgsqlConnection connection, IReadOnlyList<Migration> migrations) =>
        AppliedVersions(connection, null) is { } applied && applied.Max() <= DlsStore.SchemaVersion && migrations.All(m => applied.Contains(m.Version));

    private static List<Migration> CheckedMissing(IReadOnlyList<Migration> migrations, IReadOnlySet<int> applied, string uri)
    {
        var newest = applied.Count == 0 ? 0 : applied.Max();
        if (newest > DlsStore.SchemaVersion)
        {
            throw new DlsException(
                ErrorIds.StoreTooNew,
                DlsErrorKind.InvalidOperation,
                $"The store '{uri}' has schema version {newest}, newer than this DLS ({DlsStore.SchemaVersion}). Update DLS.",
                uri);
        }

        return migrations.Where(m => !applied.Contains(m.Version)).ToList();
    }

    /// <summary>The versions recorded as applied; null when the database holds no DLS store.</summary>
    private static HashSet<int>? AppliedVersions(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT to_regclass('schema_migration') IS NOT NULL;";
        if (!(bool)command.ExecuteScalar()!)
        {
            return null;
        }

        command.CommandText = "SELECT version FROM schema_migration;";
        var applied = new HashSet<int>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            applied.Add((int)reader.GetInt64(0));
        }

        return applied;
    }

    private static void Record(NpgsqlConnection connection, NpgsqlTransaction transaction, Migration migration, string note)
    {
        using var record = connection.CreateCommand();
        record.Transaction = transaction;
        record.CommandText = "INSERT INTO schema_migration (version, description, applied_at) VALUES (@version, @description, @now);";
        record.Parameters.AddWithValue("version", (long)migration.Version);
        record.Parameters.AddWithValue("description", note.Length == 0 ? migration.Description : $"{migration.Description} ({note})");
        record.Parameters.AddWithValue("now", Timestamps.Format(DateTimeOffset.UtcNow));
        record.ExecuteNonQuery();
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
