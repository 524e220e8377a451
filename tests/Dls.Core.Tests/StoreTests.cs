using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Core.Tests;

public sealed class StoreTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Trait("Engine", "sqlite")]
    [Fact]
    public void Opening_a_missing_store_fails_with_StoreNotFound_and_creates_nothing()
    {
        var error = Assert.Throws<DlsException>(() => DlsStore.Open(_temp.Path));
        Assert.Equal("StoreNotFound", error.ErrorId);
        Assert.Equal(DlsErrorKind.NotFound, error.Kind);
        Assert.Contains(_temp.Path, error.Message);
        Assert.False(File.Exists(_temp.Path));
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_new_store_is_in_WAL_mode_at_the_current_schema_version()
    {
        var store = _temp.Open();
        store.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode;";
            Assert.Equal("wal", (string)command.ExecuteScalar()!);
            command.CommandText = "PRAGMA user_version;";
            Assert.Equal(DlsStore.SchemaVersion, Convert.ToInt32(command.ExecuteScalar()));
            command.CommandText = "PRAGMA busy_timeout;";
            Assert.Equal((int)DlsStore.BusyTimeout.TotalMilliseconds, Convert.ToInt32(command.ExecuteScalar()));
            return 0;
        });
        Assert.True(DlsStore.SchemaVersion >= 1);
    }

    [Trait("Engine", "sqlite")]
    [UnixFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_new_store_file_is_readable_by_its_owner_only()
    {
        _temp.Open();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_temp.Path));
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_store_written_by_a_newer_DLS_is_refused()
    {
        var store = _temp.Open();
        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"PRAGMA user_version = {DlsStore.SchemaVersion + 1};";
            command.ExecuteNonQuery();
        });

        var error = Assert.Throws<DlsException>(() => DlsStore.Open(_temp.Path));
        Assert.Equal("StoreTooNew", error.ErrorId);
    }

    [Fact]
    public async Task Many_writers_and_readers_at_once_never_see_database_is_locked()
    {
        _temp.Initialized();
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var tasks = Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            try
            {
                // Each worker opens the store on its own, as separate cmdlet invocations and the listener do.
                var service = new ServerService(DlsStore.Open(_temp.Path), TimeProvider.System);
                for (var i = 0; i < 40; i++)
                {
                    if (worker % 2 == 0)
                    {
                        service.Set(null, $"http://dls{worker}.example.com:{48000 + i}/", null, null);
                    }
                    else
                    {
                        Assert.NotEmpty(service.Get().Uuid);
                    }
                }
            }
            catch (Exception error)
            {
                errors.Add(error);
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        Assert.Empty(errors);
    }

    [Trait("Engine", "sqlite")]
    [Fact]
    public void A_migration_numbered_below_the_highest_applied_one_is_still_applied()
    {
        // As when two lines of work each add a migration: the store got 40 before 30 existed.
        var store = _temp.Open();
        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                DROP TABLE usage_client; DROP TABLE usage_rollup; DROP TABLE usage_device; DROP TABLE usage_seen;
                DROP TABLE usage_instance_seen; DROP TABLE usage_feature; DROP TABLE usage_setting;
                DELETE FROM schema_migration WHERE version = 30;
                """;
            command.ExecuteNonQuery();
        });

        var reopened = DlsStore.Open(_temp.Path);

        reopened.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'usage_setting';";
            Assert.Equal(1L, command.ExecuteScalar());
            command.CommandText = "SELECT count(*) FROM schema_migration WHERE version = 30;";
            Assert.Equal(1L, command.ExecuteScalar());
            command.CommandText = "PRAGMA user_version;";
            Assert.Equal(DlsStore.SchemaVersion, Convert.ToInt32(command.ExecuteScalar()));
            return 0;
        });
    }
}
