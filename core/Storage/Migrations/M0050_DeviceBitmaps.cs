using Dls.Core.Storage.Sqlite;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Migrations;

internal sealed class M0050_DeviceBitmaps : Migration
{
    public override int Version => 50;

    public override string Description => "device sets per day and month (bitmaps of usage_client ids) for exact distinct-device counts over long ranges";

    // One row per (level, grain, period, code, item) and chunk of 4096 client ids (see DeviceBitmap): the devices
    // that reported in that day or month, as in usage_device (level 0, reports > 0) and usage_seen (levels 1, 2).
    // Month sets are kept for ever, day sets with the retention (UsageRetention). Filled here from the rows already stored.
    public override void Apply(SqliteConnection connection, SqliteTransaction transaction)
    {
        using (var create = connection.CreateCommand())
        {
            create.Transaction = transaction;
            create.CommandText = """
                CREATE TABLE usage_device_bits (
                    level               INTEGER NOT NULL,
                    grain               INTEGER NOT NULL,
                    period              INTEGER NOT NULL,
                    handshake_code      TEXT NOT NULL,
                    item_id             TEXT NOT NULL,
                    chunk               INTEGER NOT NULL,
                    bits                BLOB NOT NULL,
                    PRIMARY KEY (level, grain, period, handshake_code, item_id, chunk)
                );
                """;
            create.ExecuteNonQuery();
        }

        using var work = Dls.Core.Storage.Sql.SqlUnitOfWork.Borrow(connection, transaction);
        var writer = new DeviceBitmapWriter(work);
        using var rows = connection.CreateCommand();
        rows.Transaction = transaction;
        rows.CommandText = """
            SELECT 0, grain, period, handshake_code, item_id, client_id FROM usage_device WHERE grain >= 2 AND reports > 0
            UNION ALL
            SELECT level, grain, period, handshake_code, item_id, client_id FROM usage_seen WHERE grain >= 2;
            """;
        using var reader = rows.ExecuteReader();
        while (reader.Read())
        {
            writer.Add(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5));
            if (writer.Pending >= 100_000)
            {
                writer.Flush();
            }
        }

        writer.Flush();
    }
}
