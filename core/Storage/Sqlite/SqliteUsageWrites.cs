using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Sqlite;

/// <summary>
/// The statements of the statistics write path, prepared once per unit of work with their parameters (values are
/// set by index): the listener's writer runs them for every record of every batch.
/// </summary>
internal sealed class SqliteUsageWrites
{
    private readonly SqliteCommand[] _all;

    private SqliteUsageWrites(SqliteUnitOfWork work)
    {
        AuthEvent = work.Prepare("""
            INSERT INTO auth_event (time, slice, handshake_code, item_id, client_uuid, error_code)
            VALUES ($time, $slice, $code, $item, $client, $error)
            RETURNING id;
            """, "$time", "$slice", "$code", "$item", "$client", "$error");
        BatchSeen = work.Prepare("""
            SELECT EXISTS (SELECT 1 FROM usage_client c JOIN usage_batch b ON b.client_id = c.id
                           WHERE c.client_uuid = $client AND b.batch_key = $key);
            """, "$client", "$key");
        Batch = work.Prepare("""
            INSERT INTO usage_batch (client_id, batch_key, received_at, handshake_code, records)
            VALUES ($client, $key, $received, $code, $records)
            ON CONFLICT (client_id, batch_key) DO NOTHING
            RETURNING id;
            """, "$client", "$key", "$received", "$code", "$records");
        Client = work.Prepare("""
            INSERT INTO usage_client (client_uuid) VALUES ($client)
            ON CONFLICT (client_uuid) DO UPDATE SET client_uuid = excluded.client_uuid
            RETURNING id;
            """, "$client");
        Device = work.Prepare("""
            INSERT INTO usage_device (grain, period, handshake_code, item_id, client_id, count, reports, authorizations, failed_authorizations)
            VALUES ($grain, $period, $code, $item, $client, $count, $reports, $auth, $failed)
            ON CONFLICT DO UPDATE SET
                count = count + excluded.count,
                reports = reports + excluded.reports,
                authorizations = authorizations + excluded.authorizations,
                failed_authorizations = failed_authorizations + excluded.failed_authorizations
            RETURNING reports;
            """, "$grain", "$period", "$code", "$item", "$client", "$count", "$reports", "$auth", "$failed");
        Seen = work.Prepare("""
            INSERT OR IGNORE INTO usage_seen (level, grain, period, handshake_code, item_id, client_id)
            VALUES ($level, $grain, $period, $code, $item, $client);
            """, "$level", "$grain", "$period", "$code", "$item", "$client");
        Instance = work.Prepare("""
            INSERT OR IGNORE INTO usage_instance_seen (level, period, handshake_code, item_id, client_id, instance_id)
            VALUES ($level, $period, $code, $item, $client, $instance);
            """, "$level", "$period", "$code", "$item", "$client", "$instance");

        // A slice row's peak is its own number of devices/instances; coarser rows keep the largest slice seen.
        Rollup = work.Prepare("""
            INSERT INTO usage_rollup (level, grain, period, handshake_code, item_id, count, reports, devices, instances,
                                      peak_devices, peak_instances, authorizations, failed_authorizations)
            VALUES ($level, $grain, $period, $code, $item, $count, $reports, $devices, $instances,
                    $peakDevices, $peakInstances, $auth, $failed)
            ON CONFLICT DO UPDATE SET
                count = count + excluded.count,
                reports = reports + excluded.reports,
                devices = devices + excluded.devices,
                instances = instances + excluded.instances,
                peak_devices = CASE WHEN grain = 0 THEN devices + excluded.devices ELSE max(peak_devices, excluded.peak_devices) END,
                peak_instances = CASE WHEN grain = 0 THEN instances + excluded.instances ELSE max(peak_instances, excluded.peak_instances) END,
                authorizations = authorizations + excluded.authorizations,
                failed_authorizations = failed_authorizations + excluded.failed_authorizations
            RETURNING devices, instances;
            """, "$level", "$grain", "$period", "$code", "$item", "$count", "$reports", "$devices", "$instances",
            "$peakDevices", "$peakInstances", "$auth", "$failed");
        Feature = work.Prepare("""
            INSERT INTO usage_feature (grain, period, handshake_code, item_id, feature, count)
            VALUES ($grain, $period, $code, $item, $feature, $count)
            ON CONFLICT DO UPDATE SET count = count + excluded.count;
            """, "$grain", "$period", "$code", "$item", "$feature", "$count");
        ReadBits = work.Prepare("""
            SELECT bits FROM usage_device_bits
            WHERE level = $level AND grain = $grain AND period = $period AND handshake_code = $code AND item_id = $item AND chunk = $chunk;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk");
        WriteBits = work.Prepare("""
            INSERT INTO usage_device_bits (level, grain, period, handshake_code, item_id, chunk, bits)
            VALUES ($level, $grain, $period, $code, $item, $chunk, $bits)
            ON CONFLICT DO UPDATE SET bits = excluded.bits;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk", "$bits");
        _all = [AuthEvent, BatchSeen, Batch, Client, Device, Seen, Instance, Rollup, Feature, ReadBits, WriteBits];
    }

    public SqliteCommand AuthEvent { get; }

    public SqliteCommand BatchSeen { get; }

    public SqliteCommand Batch { get; }

    public SqliteCommand Client { get; }

    public SqliteCommand Device { get; }

    public SqliteCommand Seen { get; }

    public SqliteCommand Instance { get; }

    public SqliteCommand Rollup { get; }

    public SqliteCommand Feature { get; }

    public SqliteCommand ReadBits { get; }

    public SqliteCommand WriteBits { get; }

    /// <summary>The unit's statements, in its open transaction.</summary>
    public static SqliteUsageWrites Of(UnitOfWork work)
    {
        var sqlite = SqliteUnitOfWork.Of(work);
        var writes = sqlite.Statements(static w => new SqliteUsageWrites(w));
        var transaction = sqlite.Transaction;
        if (!ReferenceEquals(writes.AuthEvent.Transaction, transaction))
        {
            foreach (var command in writes._all)
            {
                command.Transaction = transaction;
            }
        }

        return writes;
    }

    public static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }
}
