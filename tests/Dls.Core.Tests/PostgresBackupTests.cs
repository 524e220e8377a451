using System.Security.Cryptography;
using Dls.Core.Alerts;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Server;
using Dls.Core.Storage;
using Dls.Core.Storage.Postgres;
using Npgsql;

namespace Dls.Core.Tests;

/// <summary>
/// Backup-DlsStore and Restore-DlsStore on a PostgreSQL store: a pg_dump archive with the secrets key beside it,
/// checked before pg_restore replaces the database's content, which is then the source's and signs with its key. A
/// file that is not a DLS backup of this engine is refused with the target left as it was. Real pg_dump and
/// pg_restore against the tests' own cluster; skipped, with the reason, where PostgreSQL is not installed.
/// </summary>
public sealed class PostgresBackupTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("dls-pgbackup-").FullName;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = new(Now);

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [PostgresFact]
    public void A_backup_restored_into_a_new_database_elsewhere_has_the_same_content_and_signs_with_the_same_key()
    {
        var (source, uri) = InitializedStore("216998");
        new AlertSettingsService(source, _clock).Set(new AlertSettingsChange { WebhookUrl = "https://hooks.example.test/dls", WebhookSecret = "whsec-0042" });
        var original = new ServerService(source, _clock).Get();
        var digest = StoreDigest.Of(uri);
        var backup = Path.Combine(_folder, "backups", "dls-backup.dump");

        var written = new StoreBackup(source, _clock).Backup(backup, overwrite: false);

        Assert.Equal(backup, written.FullName);
        Assert.True(PostgresArchive.LooksLikeOne(backup));
        Assert.Equal(File.ReadAllBytes(StoreBackup.SecretsKeyPath(uri)), File.ReadAllBytes(backup + ".secrets.key"));
        Assert.Contains(AuditActions(uri), action => action == "Store.Backup");

        // Another machine: only the archive and the key file beside it, restored into a new database.
        var copied = Path.Combine(_folder, "elsewhere", "copied.dump");
        Directory.CreateDirectory(Path.GetDirectoryName(copied)!);
        File.Copy(backup, copied);
        File.Copy(backup + ".secrets.key", copied + ".secrets.key");
        var target = TestPostgres.NewDatabase();

        var restored = StoreRestore.Restore(copied, target, _clock);

        Assert.Equal(target, restored.Path);
        Assert.Contains(AuditActions(target), action => action == "Store.Restore");
        Assert.Equal(digest, DigestWithoutRestoreEntry(target));
        Assert.Equal(File.ReadAllBytes(copied + ".secrets.key"), File.ReadAllBytes(StoreBackup.SecretsKeyPath(target)));
        var service = new ServerService(DlsStore.Open(target), _clock);
        Assert.Equal(original.Uuid, service.Get().Uuid);
        Assert.Equal(original.PublicKey, service.Get().PublicKey);
        using var publicKey = PublicKey(original);
        Assert.NotNull(AuthorizationTokens.Verify(publicKey, Sign(service)));
        Assert.Equal("whsec-0042", new SecretProtector(target).Unprotect("webhook.secret", StoredAlertSetting(target, "webhook.secret")));
    }

    [PostgresFact]
    public void A_backup_restored_over_its_own_changed_store_brings_back_what_it_holds()
    {
        var (source, uri) = InitializedStore("216998");
        var digest = StoreDigest.Of(uri);
        var backup = Path.Combine(_folder, "dls-backup.dump");
        new StoreBackup(source, _clock).Backup(backup, overwrite: false);
        new ServerService(source, _clock).Initialize("555", force: true);
        Assert.Equal("555", new ServerService(source, _clock).Get().OrganizationId);

        new StoreBackup(source, _clock).Restore(backup);

        Assert.Equal("216998", new ServerService(DlsStore.Open(uri), _clock).Get().OrganizationId);
        Assert.Equal(digest, DigestWithoutRestoreEntry(uri));
    }

    [PostgresFact]
    public void Tables_of_a_newer_schema_than_the_backups_go_so_that_the_restored_store_opens()
    {
        var (source, uri) = InitializedStore("216998");
        var backup = Path.Combine(_folder, "dls-backup.dump");
        new StoreBackup(source, _clock).Backup(backup, overwrite: false);
        // What a later migration leaves in the store after the backup was taken: a table the archive does not hold.
        Execute(uri, "CREATE TABLE from_a_later_migration (id BIGINT PRIMARY KEY); INSERT INTO from_a_later_migration VALUES (1);");

        new StoreBackup(source, _clock).Restore(backup);

        Assert.Equal(0L, Scalar(uri, "SELECT count(*) FROM pg_tables WHERE tablename = 'from_a_later_migration';"));
        Assert.Equal("216998", new ServerService(DlsStore.Open(uri), _clock).Get().OrganizationId);
    }

    [PostgresFact]
    public void Files_that_are_not_a_DLS_backup_of_a_PostgreSQL_store_are_refused_and_the_target_is_left_as_it_was()
    {
        var (_, target) = InitializedStore("777");
        var keyPath = StoreBackup.SecretsKeyPath(target);
        var before = (Digest: StoreDigest.Of(target), Key: File.ReadAllBytes(keyPath));

        var text = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(text, "not a backup");
        AssertRefused(text, target, ErrorIds.BackupInvalid, "neither a pg_dump archive");

        var damaged = Path.Combine(_folder, "damaged.dump");
        File.WriteAllBytes(damaged, [.. "PGDMP"u8, .. RandomNumberGenerator.GetBytes(200)]);
        AssertRefused(damaged, target, ErrorIds.BackupInvalid, "pg_restore cannot read it");

        // A real pg_dump archive, of a database that is not a DLS store.
        var other = TestPostgres.NewDatabase();
        Execute(other, "CREATE TABLE server (id BIGINT); CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello');");
        var foreign = Path.Combine(_folder, "foreign.dump");
        File.Create(foreign).Dispose();
        new PostgresTools().Dump(other, foreign);
        AssertRefused(foreign, target, ErrorIds.BackupNotDls, "is a pg_dump archive but not a DLS store backup");

        // A DLS store that was never initialized.
        var blankUri = TestPostgres.NewDatabase();
        var blank = Path.Combine(_folder, "blank.dump");
        new StoreBackup(DlsStore.OpenOrCreate(blankUri), _clock).Backup(blank, overwrite: false);
        AssertRefused(blank, target, ErrorIds.BackupNotDls, "never initialized");

        Assert.Equal(before.Digest, StoreDigest.Of(target));
        Assert.Equal(before.Key, File.ReadAllBytes(keyPath));
    }

    [PostgresFact]
    public void A_SQLite_backup_is_refused_by_a_PostgreSQL_store_and_a_pg_dump_archive_by_a_SQLite_store()
    {
        var (source, target) = InitializedStore("777");
        var before = StoreDigest.Of(target);
        var sqlitePath = Path.Combine(_folder, "sqlite", "dls.db");
        var sqliteStore = DlsStore.OpenOrCreate(sqlitePath);
        new ServerService(sqliteStore, _clock).Initialize("216998", force: false);
        var sqliteBackup = Path.Combine(_folder, "sqlite-backup.db");
        new StoreBackup(sqliteStore, _clock).Backup(sqliteBackup, overwrite: false);

        var intoPostgres = AssertRefused(sqliteBackup, target, ErrorIds.BackupEngineMismatch, "a backup of a SQLite store");
        Assert.Contains("is a PostgreSQL store", intoPostgres.Message, StringComparison.Ordinal);
        Assert.Equal(before, StoreDigest.Of(target));

        var archive = Path.Combine(_folder, "pg-backup.dump");
        new StoreBackup(source, _clock).Backup(archive, overwrite: false);
        var sqliteBefore = StoreDigest.Of(sqlitePath);
        var intoSqlite = AssertRefused(archive, sqlitePath, ErrorIds.BackupEngineMismatch, "a pg_dump archive of a PostgreSQL store");
        Assert.Contains("is a SQLite store", intoSqlite.Message, StringComparison.Ordinal);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal(sqliteBefore, StoreDigest.Of(sqlitePath));
    }

    [PostgresFact]
    public void A_backup_from_a_newer_DLS_is_refused_and_the_target_is_left_as_it_was()
    {
        var (source, uri) = InitializedStore("216998");
        Execute(uri, $"INSERT INTO schema_migration (version, description, applied_at) VALUES ({DlsStore.SchemaVersion + 1}, 'from the future', '2027-01-01T00:00:00Z');");
        var backup = Path.Combine(_folder, "newer.dump");
        new StoreBackup(source, _clock).Backup(backup, overwrite: false);
        var (_, target) = InitializedStore("777");
        var before = StoreDigest.Of(target);

        AssertRefused(backup, target, ErrorIds.BackupTooNew, $"schema {DlsStore.SchemaVersion + 1}");

        Assert.Equal(before, StoreDigest.Of(target));
    }

    [PostgresFact]
    public void A_key_file_of_another_store_beside_the_backup_is_refused_and_the_target_is_left_as_it_was()
    {
        var (source, _) = InitializedStore("216998");
        var backup = Path.Combine(_folder, "dls-backup.dump");
        new StoreBackup(source, _clock).Backup(backup, overwrite: false);
        var (_, target) = InitializedStore("777");
        // A key file that opens nothing of this backup (the tests' PostgreSQL stores share one key file: DLS_SECRETS_KEY).
        File.WriteAllBytes(backup + ".secrets.key", RandomNumberGenerator.GetBytes(32));
        var before = (Digest: StoreDigest.Of(target), Key: File.ReadAllBytes(StoreBackup.SecretsKeyPath(target)));

        AssertRefused(backup, target, ErrorIds.BackupSecretsKeyInvalid, backup + ".secrets.key");

        Assert.Equal(before.Digest, StoreDigest.Of(target));
        Assert.Equal(before.Key, File.ReadAllBytes(StoreBackup.SecretsKeyPath(target)));
    }

    [PostgresFact]
    public void Without_pg_dump_or_pg_restore_the_error_says_which_tool_is_missing_and_nothing_is_written()
    {
        var (source, uri) = InitializedStore("216998");
        var empty = Directory.CreateDirectory(Path.Combine(_folder, "no-tools")).FullName;
        var backupPath = Path.Combine(_folder, "dls-backup.dump");

        var dump = Assert.Throws<DlsException>(() => new StoreBackup(source, _clock) { PostgresToolFolder = empty }.Backup(backupPath, overwrite: false));

        Assert.Equal(ErrorIds.PostgresToolMissing, dump.ErrorId);
        Assert.StartsWith("pg_dump is not installed", dump.Message, StringComparison.Ordinal);
        Assert.Contains(empty, dump.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_folder));

        new StoreBackup(source, _clock).Backup(backupPath, overwrite: false);
        var before = StoreDigest.Of(uri);
        var restore = Assert.Throws<DlsException>(() => StoreRestore.Restore(backupPath, uri, _clock, postgresToolFolder: empty));
        Assert.Equal(ErrorIds.PostgresToolMissing, restore.ErrorId);
        Assert.StartsWith("pg_restore is not installed", restore.Message, StringComparison.Ordinal);
        Assert.Equal(before, StoreDigest.Of(uri));
    }

    [PostgresFact]
    public void A_failing_pg_dump_is_reported_with_its_own_words_and_leaves_no_file()
    {
        var (source, uri) = InitializedStore("216998");
        var database = new NpgsqlConnectionStringBuilder(TestPostgres.ConnectionStringOf(uri)).Database;
        NpgsqlConnection.ClearAllPools();
        Execute(uri.Replace("/" + database, "/postgres", StringComparison.Ordinal), $"DROP DATABASE {database} WITH (FORCE);");
        var backupPath = Path.Combine(_folder, "dls-backup.dump");

        var error = Assert.Throws<DlsException>(() => new StoreBackup(source, _clock).Backup(backupPath, overwrite: false));

        Assert.Equal(ErrorIds.PostgresToolFailed, error.ErrorId);
        Assert.StartsWith("pg_dump failed", error.Message, StringComparison.Ordinal);
        Assert.Contains($"database \"{database}\" does not exist", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_folder));
    }

    [Fact]
    public void The_tools_are_pointed_at_the_store_through_the_environment_in_libpq_spelling()
    {
        var environment = new Dictionary<string, string?> { ["PGSERVICE"] = "elsewhere", ["PGPASSWORD"] = "kept" };

        PostgresTools.Connect(environment, "postgresql://dls@db1,db2:5433,[::1]:5434/licenses?sslmode=verify-full&application_name=dls-backup");

        Assert.Equal("db1,db2,::1", environment["PGHOST"]);
        Assert.Equal("5432,5433,5434", environment["PGPORT"]);
        Assert.Equal("dls", environment["PGUSER"]);
        Assert.Equal("licenses", environment["PGDATABASE"]);
        Assert.Equal("verify-full", environment["PGSSLMODE"]);
        Assert.Equal("dls-backup", environment["PGAPPNAME"]);
        Assert.Matches(@"^-c lock_timeout=\d+ -c idle_in_transaction_session_timeout=\d+$", environment["PGOPTIONS"]);
        Assert.False(environment.ContainsKey("PGSERVICE"));
        Assert.Equal("kept", environment["PGPASSWORD"]);
    }

    private (DlsStore Store, string Uri) InitializedStore(string organizationId)
    {
        var uri = TestPostgres.NewDatabase();
        var store = DlsStore.OpenOrCreate(uri);
        new ServerService(store, _clock).Initialize(organizationId, force: false);
        return (store, uri);
    }

    private static DlsException AssertRefused(string backup, string target, string errorId, string says)
    {
        var error = Assert.Throws<DlsException>(() => StoreRestore.Restore(backup, target, TimeProvider.System));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(says, error.Message, StringComparison.Ordinal);
        return error;
    }

    /// <summary>The store's digest with the restore's own audit entry taken out: what the backup held, if the restore brought it back whole.</summary>
    private static string DigestWithoutRestoreEntry(string uri)
    {
        Execute(uri, "DELETE FROM audit_log WHERE action = 'Store.Restore';");
        return StoreDigest.Of(uri);
    }

    private static List<string> AuditActions(string uri)
    {
        using var connection = new NpgsqlConnection(TestPostgres.ConnectionStringOf(uri));
        connection.Open();
        using var command = new NpgsqlCommand("SELECT action FROM audit_log ORDER BY id;", connection);
        using var reader = command.ExecuteReader();
        var actions = new List<string>();
        while (reader.Read())
        {
            actions.Add(reader.GetString(0));
        }

        return actions;
    }

    private static string StoredAlertSetting(string uri, string name)
    {
        using var connection = new NpgsqlConnection(TestPostgres.ConnectionStringOf(uri));
        connection.Open();
        using var command = new NpgsqlCommand("SELECT value FROM alert_setting WHERE name = @name;", connection);
        command.Parameters.AddWithValue("name", name);
        return (string)command.ExecuteScalar()!;
    }

    private static long Scalar(string uri, string sql)
    {
        using var connection = new NpgsqlConnection(TestPostgres.ConnectionStringOf(uri));
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return (long)command.ExecuteScalar()!;
    }

    private static void Execute(string uri, string sql)
    {
        using var connection = new NpgsqlConnection(TestPostgres.ConnectionStringOf(uri));
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static string Sign(ServerService service)
    {
        using var signer = new AuthorizationSigner(service);
        return signer.Sign(new AuthGrant("216998-app", "DBR-1", LicenseMode.PerDeviceYearly, Now.AddDays(365), Now.AddDays(7), 180, Now, Now, null), "client-1");
    }

    private static ECDsa PublicKey(ServerInfo server)
    {
        var key = EcKeys.Create();
        key.ImportSubjectPublicKeyInfo(server.PublicKeyDer(), out _);
        return key;
    }
}
