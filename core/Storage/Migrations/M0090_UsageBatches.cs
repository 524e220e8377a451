using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Migrations;

/// <summary>
/// Raw usage is kept per report batch from this version: one usage_batch row per acknowledged batch, its accepted
/// records in one blob (<see cref="RawUsageBatch"/>), instead of a usage_record row (and an index entry) per record
/// plus a report_batch row per batch. The batch id is remembered in the same row (a 16-byte key, unique per client),
/// so refusing a re-sent batch and keeping its records are one insert.
/// The batch ids of report_batch move here (no records: theirs stay in usage_record, which is no longer written and
/// empties as the retention purges it). Ids grow with the time a batch was received, which the purge relies on.
/// usage_rollup_mark says up to which raw row the roll-ups are made (everything, when this runs).
/// </summary>
internal sealed class M0090_UsageBatches : Migration
{
    public override int Version => 90;

    public override string Description => "raw usage kept per report batch (usage_batch), batch ids with it; roll-up marks";

    public override void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        Run(connection, transaction, """
            CREATE TABLE usage_batch (
                id                  INTEGER PRIMARY KEY,
                client_id           INTEGER NOT NULL,
                batch_key           BLOB NOT NULL,
                received_at         INTEGER NOT NULL,
                handshake_code      TEXT NOT NULL,
                records             BLOB
            );
            CREATE UNIQUE INDEX usage_batch_key ON usage_batch (client_id, batch_key);

            -- How far the roll-ups have taken in each raw table: the listener rolls up later than it commits raw
            -- rows (RollupBuffer), and after a crash it rolls up the rows above these marks when it starts.
            CREATE TABLE usage_rollup_mark (
                source              TEXT PRIMARY KEY,
                last_id             INTEGER NOT NULL
            ) WITHOUT ROWID;
            INSERT INTO usage_rollup_mark (source, last_id) VALUES ('auth_event', (SELECT coalesce(max(id), 0) FROM auth_event));
            INSERT OR IGNORE INTO usage_client (client_uuid) SELECT DISTINCT client_uuid FROM report_batch;
            """);

        using (var read = connection.CreateCommand())
        using (var insert = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = """
                SELECT c.id, b.batch_id, b.received_at FROM report_batch b JOIN usage_client c ON c.client_uuid = b.client_uuid
                ORDER BY b.received_at;
                """;
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT OR IGNORE INTO usage_batch (client_id, batch_key, received_at, handshake_code, records)
                VALUES ($client, $key, $received, '', NULL);
                """;
            var client = insert.Parameters.Add("$client", SqliteType.Integer);
            var key = insert.Parameters.Add("$key", SqliteType.Blob);
            var received = insert.Parameters.Add("$received", SqliteType.Integer);
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                client.Value = reader.GetInt64(0);
                key.Value = RawUsageBatch.KeyOf(reader.GetString(1));
                received.Value = Timestamps.Parse(reader.GetString(2)).ToUnixTimeSeconds();
                insert.ExecuteNonQuery();
            }
        }

        Run(connection, transaction, """
            DROP TABLE report_batch;
            INSERT INTO usage_rollup_mark (source, last_id) VALUES ('usage_batch', (SELECT coalesce(max(id), 0) FROM usage_batch));
            """);
    }

    private static void Run(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
