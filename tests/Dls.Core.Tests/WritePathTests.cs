using System.Text;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;
using static Dls.Core.Tests.UsageFacts;

namespace Dls.Core.Tests;

/// <summary>The listener writer's shortcuts: cached statements, and report batches added up before they are written.</summary>
public sealed class WritePathTests : IDisposable
{
    private static readonly string[] UsageTables =
        ["usage_client", "usage_record", "auth_event", "usage_rollup", "usage_device", "usage_seen", "usage_instance_seen", "usage_feature", "usage_device_bits"];

    private readonly TempStore _one = new();
    private readonly TempStore _batched = new();

    public void Dispose()
    {
        _one.Dispose();
        _batched.Dispose();
    }

    [Fact]
    public void A_cached_statement_sees_each_transactions_own_state_and_parameters()
    {
        var store = _one.Initialized();
        using var connection = store.OpenConnection();
        const string Insert = "INSERT INTO probe (name, value) VALUES ($name, $value);";
        const string Read = "SELECT value FROM probe WHERE name = $name;";
        Execute(connection, "CREATE TABLE probe (name TEXT PRIMARY KEY, value TEXT NOT NULL);");

        using (var committed = connection.BeginTransaction())
        {
            var insert = StatementCache.Get(connection, committed, Insert);
            insert.Parameters.AddWithValue("$name", "a");
            insert.Parameters.AddWithValue("$value", "1");
            insert.ExecuteNonQuery();
            committed.Commit();
        }

        using (var rolledBack = connection.BeginTransaction())
        {
            var insert = StatementCache.Get(connection, rolledBack, Insert);
            Assert.Empty(insert.Parameters);
            insert.Parameters.AddWithValue("$name", "b");
            insert.Parameters.AddWithValue("$value", "2");
            insert.ExecuteNonQuery();
            Assert.Equal("2", ReadValue(connection, rolledBack, "b"));
            rolledBack.Rollback();
        }

        Assert.Same(StatementCache.Get(connection, null, Read), StatementCache.Get(connection, null, Read));
        Assert.Equal("1", ReadValue(connection, null, "a"));
        Assert.Null(ReadValue(connection, null, "b"));

        static string? ReadValue(SqliteConnection connection, SqliteTransaction? transaction, string name)
        {
            var read = StatementCache.Get(connection, transaction, Read);
            read.Parameters.AddWithValue("$name", name);
            return read.ExecuteScalar() as string;
        }
    }

    [Fact]
    public void Facts_written_as_one_batch_leave_the_same_tables_as_facts_written_one_by_one()
    {
        var (usage, authorizations) = Random(seed: 4242);
        var one = _one.Initialized();
        var batched = _batched.Initialized();
        // Another client's history first, so that the batch meets rows that already exist.
        Write(one, usage.Take(100), authorizations.Take(40));
        Write(batched, usage.Take(100), authorizations.Take(40));

        one.Write((connection, transaction) =>
        {
            foreach (var fact in usage.Skip(100))
            {
                UsageStatistics.RecordUsage(connection, transaction, fact);
            }

            foreach (var fact in authorizations.Skip(40))
            {
                UsageStatistics.RecordAuthorization(connection, transaction, fact);
            }
        });
        Write(batched, usage.Skip(100), authorizations.Skip(40));

        foreach (var table in UsageTables)
        {
            Assert.Equal(Dump(one, table), Dump(batched, table));
        }

        Assert.NotEqual(string.Empty, Dump(batched, "usage_device_bits"));
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Dump(DlsStore store, string table) => store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {table};";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            var row = new StringBuilder();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                var value = reader.GetValue(i);
                row.Append(value is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)).Append('|');
            }

            rows.Add(row.ToString());
        }

        rows.Sort(StringComparer.Ordinal);
        return string.Join('\n', rows);
    });
}
