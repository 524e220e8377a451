using System.Data.Common;
using System.Security.Cryptography;
using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Tests;

/// <summary>
/// Restores onto a path with or without a store, through a staged copy checked before it is renamed into place:
/// the restored store is the backup, and a refused restore leaves the target's files as they were.
/// </summary>
[Trait("Engine", "sqlite")]
public sealed class StoreRestoreTests : IDisposable
{
    private readonly TempStore _source = new();
    private readonly TempStore _elsewhere = new();
    private readonly string _backup;
    private readonly ServerInfo _original;

    public StoreRestoreTests()
    {
        var store = _source.Initialized();
        _original = new ServerService(store, _source.Clock).Get();
        _backup = Path.Combine(_source.Folder, "backups", "dls-backup.db");
        new StoreBackup(store, _source.Clock).Backup(_backup, overwrite: false);
    }

    public void Dispose()
    {
        _source.Dispose();
        _elsewhere.Dispose();
    }

    [Fact]
    public void Restores_into_a_folder_that_does_not_exist_yet()
    {
        var target = Path.Combine(_elsewhere.Folder, "new", "machine", "dls.db");

        var restored = StoreRestore.Restore(_backup, target, _elsewhere.Clock);

        Assert.Equal(target, restored.Path);
        Assert.Equal(_original with { StorePath = target }, new ServerService(restored, _elsewhere.Clock).Get());
        Assert.Equal(File.ReadAllBytes(_backup + ".secrets.key"), File.ReadAllBytes(target + ".secrets.key"));
        using var key = new ServerService(restored, _elsewhere.Clock).LoadSigningKey();
        Assert.Equal(new[] { "dls.db", "dls.db-shm", "dls.db-wal", "dls.db.secrets.key" }, FileNames(Path.GetDirectoryName(target)!).Where(n => !n.EndsWith("-journal", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_write_ahead_log_of_the_replaced_store_is_not_replayed_into_the_restored_one()
    {
        // The replaced store's log with changes in it, as a crash leaves it. (Taken while a connection of its own holds the
        // store open: other tests clear every connection pool at any moment, and the last connection to close folds the
        // log into the store and removes it.)
        var target = _elsewhere.Initialized("777");
        byte[] log;
        using (var holder = new SqliteConnection($"Data Source={target.Path};Pooling=False"))
        {
            holder.Open();
            new ServerService(target, _elsewhere.Clock).Set("778", null, null, null);
            log = File.ReadAllBytes(target.Path + "-wal");
        }

        SqliteConnection.ClearAllPools();
        File.WriteAllBytes(target.Path + "-wal", log);
        Assert.True(log.Length > 0, "the replaced store has changes in its log");

        var restored = StoreRestore.Restore(_backup, target.Path, _elsewhere.Clock);

        Assert.Equal(_original.Uuid, new ServerService(restored, _elsewhere.Clock).Get().Uuid);
        Assert.Equal("216998", new ServerService(restored, _elsewhere.Clock).Get().OrganizationId);
        Assert.Equal("ok", restored.Read(c => Scalar(c, "PRAGMA integrity_check;")));
    }

    [Fact]
    public void A_store_another_connection_holds_open_is_refused_as_busy_and_left_as_it_was()
    {
        var target = _elsewhere.Initialized("777");
        using var other = new SqliteConnection($"Data Source={target.Path};Pooling=False");
        other.Open();
        Assert.Equal("777", Scalar(other, "SELECT organization_id FROM server;"));
        var before = Picture(_elsewhere.Folder);

        var error = Assert.Throws<DlsException>(() => StoreRestore.Restore(_backup, target.Path, _elsewhere.Clock));

        Assert.Equal(ErrorIds.StoreBusy, error.ErrorId);
        Assert.Equal(before, Picture(_elsewhere.Folder));
    }

    [Fact]
    public void A_damaged_store_is_replaced()
    {
        _elsewhere.Initialized("777");
        SqliteConnection.ClearAllPools();
        File.Delete(_elsewhere.Path + "-wal");
        File.Delete(_elsewhere.Path + "-shm");
        var bytes = File.ReadAllBytes(_elsewhere.Path);
        RandomNumberGenerator.Fill(bytes.AsSpan(100, bytes.Length - 100));
        File.WriteAllBytes(_elsewhere.Path, bytes);
        Assert.ThrowsAny<Exception>(() => new ServerService(DlsStore.Open(_elsewhere.Path), _elsewhere.Clock).Get());

        var restored = StoreRestore.Restore(_backup, _elsewhere.Path, _elsewhere.Clock);

        Assert.Equal(_original.Uuid, new ServerService(restored, _elsewhere.Clock).Get().Uuid);
    }

    [Fact]
    public void A_backup_from_a_newer_DLS_is_refused_and_nothing_is_left_behind()
    {
        var newer = Path.Combine(_source.Folder, "newer.db");
        File.Copy(_backup, newer);
        File.Copy(_backup + ".secrets.key", newer + ".secrets.key");
        using (var connection = new SqliteConnection($"Data Source={newer};Pooling=False"))
        {
            connection.Open();
            Scalar(connection, $"PRAGMA user_version = {DlsStore.SchemaVersion + 1};");
        }

        var error = Assert.Throws<DlsException>(() => StoreRestore.Restore(newer, _elsewhere.Path, _elsewhere.Clock));

        Assert.Equal(ErrorIds.BackupTooNew, error.ErrorId);
        Assert.Empty(FileNames(_elsewhere.Folder));
    }

    [Fact]
    public void A_key_file_of_another_store_beside_the_backup_is_refused_and_the_target_is_left_as_it_was()
    {
        _elsewhere.Initialized("777");
        File.Copy(_elsewhere.Path + ".secrets.key", _backup + ".secrets.key", overwrite: true);
        var before = Picture(_elsewhere.Folder);

        var error = Assert.Throws<DlsException>(() => StoreRestore.Restore(_backup, _elsewhere.Path, _elsewhere.Clock));

        Assert.Equal(ErrorIds.BackupSecretsKeyInvalid, error.ErrorId);
        Assert.Equal(before, Picture(_elsewhere.Folder));
    }

    [Fact]
    public void A_store_that_was_never_initialized_is_not_a_DLS_backup()
    {
        using var blank = new TempStore();
        var uninitialized = Path.Combine(blank.Folder, "blank-backup.db");
        new StoreBackup(blank.Open(), blank.Clock).Backup(uninitialized, overwrite: false);

        var error = Assert.Throws<DlsException>(() => StoreRestore.Restore(uninitialized, _elsewhere.Path, _elsewhere.Clock));

        Assert.Equal(ErrorIds.BackupNotDls, error.ErrorId);
        Assert.Empty(FileNames(_elsewhere.Folder));
    }

    private static string[] FileNames(string folder) =>
        Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    /// <summary>
    /// Every file of the folder with its SHA-256: "left as it was" is this, unchanged. Idle pooled connections are
    /// closed first: closing the last connection of a WAL store checkpoints it and removes its -wal file, and a
    /// restore in another test clears every pool of the process, so a picture taken with connections still pooled
    /// could change without anything writing to the store.
    /// </summary>
    private static string Picture(string folder)
    {
        SqliteConnection.ClearAllPools();
        return string.Join(
            "\n",
            Directory.GetFiles(folder).Order(StringComparer.Ordinal)
                .Select(f => $"{Path.GetFileName(f)}={Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}"));
    }

    private static string? Scalar(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar()?.ToString();
    }
}
