using System.Data.Common;

namespace Dls.Core.Storage.Sql;

/// <summary>
/// The statements of the statistics write path, prepared once per unit of work with their parameters (values are
/// set by index): the listener's writer runs them for every record of every batch.
/// </summary>
internal sealed class SqlUsageWrites
{
    private readonly DbCommand[] _all;

    private SqlUsageWrites(SqlUnitOfWork work)
    {
        AuthEvent = work.Prepare($"""
            INSERT INTO auth_event (id, time, slice, handshake_code, item_id, client_uuid, error_code)
            VALUES ({work.Dialect.NextId("auth_event")}, $time, $slice, $code, $item, $client, $error)
            RETURNING id;
            """, "$time", "$slice", "$code", "$item", "$client", "$error");
        BatchSeen = work.Prepare("""
            SELECT EXISTS (SELECT 1 FROM usage_client c JOIN usage_batch b ON b.client_id = c.id
                           WHERE c.client_uuid = $client AND b.batch_key = $key);
            """, "$client", "$key");
        Batch = work.Prepare($"""
            INSERT INTO usage_batch (id, client_id, batch_key, received_at, handshake_code, records)
            VALUES ({work.Dialect.NextId("usage_batch")}, $client, $key, $received, $code, $records)
            ON CONFLICT (client_id, batch_key) DO NOTHING
            RETURNING id;
            """, "$client", "$key", "$received", "$code", "$records");
        Client = work.Prepare($"""
            INSERT INTO usage_client (id, client_uuid) VALUES ({work.Dialect.NextId("usage_client")}, $client)
            ON CONFLICT (client_uuid) DO UPDATE SET client_uuid = excluded.client_uuid
            RETURNING id;
            """, "$client");
        Device = work.Prepare("""
            INSERT INTO usage_device (grain, period, handshake_code, item_id, client_id, count, reports, authorizations, failed_authorizations)
            VALUES ($grain, $period, $code, $item, $client, $count, $reports, $auth, $failed)
            ON CONFLICT (grain, period, handshake_code, item_id, client_id) DO UPDATE SET
                count = usage_device.count + excluded.count,
                reports = usage_device.reports + excluded.reports,
                authorizations = usage_device.authorizations + excluded.authorizations,
                failed_authorizations = usage_device.failed_authorizations + excluded.failed_authorizations
            RETURNING reports;
            """, "$grain", "$period", "$code", "$item", "$client", "$count", "$reports", "$auth", "$failed");
        Seen = work.Prepare("""
            INSERT INTO usage_seen (level, grain, period, handshake_code, item_id, client_id)
            VALUES ($level, $grain, $period, $code, $item, $client)
            ON CONFLICT DO NOTHING;
            """, "$level", "$grain", "$period", "$code", "$item", "$client");
        Instance = work.Prepare("""
            INSERT INTO usage_instance_seen (level, period, handshake_code, item_id, client_id, instance_id)
            VALUES ($level, $period, $code, $item, $client, $instance)
            ON CONFLICT DO NOTHING;
            """, "$level", "$period", "$code", "$item", "$client", "$instance");

        // A slice row's peak is its own number of devices/instances; coarser rows keep the largest slice seen.
        Rollup = work.Prepare("""
            INSERT INTO usage_rollup (level, grain, period, handshake_code, item_id, count, reports, devices, instances,
                                      peak_devices, peak_instances, authorizations, failed_authorizations)
            VALUES ($level, $grain, $period, $code, $item, $count, $reports, $devices, $instances,
                    $peakDevices, $peakInstances, $auth, $failed)
            ON CONFLICT (level, grain, period, handshake_code, item_id) DO UPDATE SET
                count = usage_rollup.count + excluded.count,
                reports = usage_rollup.reports + excluded.reports,
                devices = usage_rollup.devices + excluded.devices,
                instances = usage_rollup.instances + excluded.instances,
                peak_devices = CASE WHEN usage_rollup.grain = 0 THEN usage_rollup.devices + excluded.devices
                    WHEN excluded.peak_devices > usage_rollup.peak_devices THEN excluded.peak_devices ELSE usage_rollup.peak_devices END,
                peak_instances = CASE WHEN usage_rollup.grain = 0 THEN usage_rollup.instances + excluded.instances
                    WHEN excluded.peak_instances > usage_rollup.peak_instances THEN excluded.peak_instances ELSE usage_rollup.peak_instances END,
                authorizations = usage_rollup.authorizations + excluded.authorizations,
                failed_authorizations = usage_rollup.failed_authorizations + excluded.failed_authorizations
            RETURNING devices, instances;
            """, "$level", "$grain", "$period", "$code", "$item", "$count", "$reports", "$devices", "$instances",
            "$peakDevices", "$peakInstances", "$auth", "$failed");
        Feature = work.Prepare("""
            INSERT INTO usage_feature (grain, period, handshake_code, item_id, feature, count)
            VALUES ($grain, $period, $code, $item, $feature, $count)
            ON CONFLICT (grain, period, handshake_code, item_id, feature) DO UPDATE SET count = usage_feature.count + excluded.count;
            """, "$grain", "$period", "$code", "$item", "$feature", "$count");
        ReadBits = work.Prepare("""
            SELECT bits FROM usage_device_bits
            WHERE level = $level AND grain = $grain AND period = $period AND handshake_code = $code AND item_id = $item AND chunk = $chunk;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk");
        WriteBits = work.Prepare("""
            INSERT INTO usage_device_bits (level, grain, period, handshake_code, item_id, chunk, bits)
            VALUES ($level, $grain, $period, $code, $item, $chunk, $bits)
            ON CONFLICT (level, grain, period, handshake_code, item_id, chunk) DO UPDATE SET bits = excluded.bits;
            """, "$level", "$grain", "$period", "$code", "$item", "$chunk", "$bits");
        _all = [AuthEvent, BatchSeen, Batch, Client, Device, Seen, Instance, Rollup, Feature, ReadBits, WriteBits];
    }

    public DbCommand AuthEvent { get; }

    public DbCommand BatchSeen { get; }

    public DbCommand Batch { get; }

    public DbCommand Client { get; }

    public DbCommand Device { get; }

    public DbCommand Seen { get; }

    public DbCommand Instance { get; }

    public DbCommand Rollup { get; }

    public DbCommand Feature { get; }

    public DbCommand ReadBits { get; }

    public DbCommand WriteBits { get; }

    /// <summary>The unit's statements, in its open transaction.</summary>
    public static SqlUsageWrites Of(UnitOfWork work)
    {
        var sqlite = SqlUnitOfWork.Of(work);
        var writes = sqlite.Statements(static w => new SqlUsageWrites(w));
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

    public static void Set(DbCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }
}
