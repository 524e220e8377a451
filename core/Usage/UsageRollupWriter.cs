using Microsoft.Data.Sqlite;

namespace Dls.Core.Usage;

/// <summary>
/// Keeps the roll-ups up to date as facts arrive, inside the caller's transaction. Its commands are prepared
/// once and reused for every fact of a batch, so a usage fact costs a few indexed upserts: the device's row per
/// grain, "first time seen in this period" rows that stop at the first grain where the device was already seen
/// (seen in this hour means seen in this day and month), and one counter row per grain and level.
/// </summary>
internal sealed class UsageRollupWriter : IDisposable
{
    private const int CodeLevel = 1;
    private const int ItemLevel = 2;

    private readonly SqliteCommand _client;
    private readonly SqliteCommand _device;
    private readonly SqliteCommand _seen;
    private readonly SqliteCommand _instance;
    private readonly SqliteCommand _rollup;
    private readonly SqliteCommand _feature;
    private readonly long[] _periods = new long[4];
    private readonly bool[] _newDevice = new bool[4];

    public UsageRollupWriter(SqliteConnection connection, SqliteTransaction transaction)
    {
        _client = Command(connection, transaction, """
            INSERT INTO usage_client (client_uuid) VALUES ($client)
            ON CONFLICT (client_uuid) DO UPDATE SET client_uuid = excluded.client_uuid
            RETURNING id;
            """, "$client");
        _device = Command(connection, transaction, """
            INSERT INTO usage_device (grain, period, handshake_code, item_id, client_id, count, reports, authorizations, failed_authorizations)
            VALUES ($grain, $period, $code, $item, $client, $count, $reports, $auth, $failed)
            ON CONFLICT DO UPDATE SET
                count = count + excluded.count,
                reports = reports + excluded.reports,
                authorizations = authorizations + excluded.authorizations,
                failed_authorizations = failed_authorizations + excluded.failed_authorizations
            RETURNING reports;
            """, "$grain", "$period", "$code", "$item", "$client", "$count", "$reports", "$auth", "$failed");
        _seen = Command(connection, transaction, """
            INSERT OR IGNORE INTO usage_seen (level, grain, period, handshake_code, item_id, client_id)
            VALUES ($level, $grain, $period, $code, $item, $client);
            """, "$level", "$grain", "$period", "$code", "$item", "$client");
        _instance = Command(connection, transaction, """
            INSERT OR IGNORE INTO usage_instance_seen (level, period, handshake_code, item_id, client_id, instance_id)
            VALUES ($level, $period, $code, $item, $client, $instance);
            """, "$level", "$period", "$code", "$item", "$client", "$instance");
        // A slice row's peak is its own number of devices/instances; coarser rows keep the largest slice seen.
        _rollup = Command(connection, transaction, """
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
        _feature = Command(connection, transaction, """
            INSERT INTO usage_feature (grain, period, handshake_code, item_id, feature, count)
            VALUES ($grain, $period, $code, $item, $feature, $count)
            ON CONFLICT DO UPDATE SET count = count + excluded.count;
            """, "$grain", "$period", "$code", "$item", "$feature", "$count");
    }

    public void Add(AuthorizationFact fact)
    {
        var client = ClientId(fact.ClientUuid);
        var failed = fact.ErrorCode == 0 ? 0 : 1;
        FillPeriods(TimeSlice.StartOf(fact.Time));
        for (var grain = 0; grain < 4; grain++)
        {
            Device(grain, fact.HandshakeCode, fact.ItemId, client, count: 0, reports: 0, authorizations: 1, failed);
        }

        foreach (var (level, code, item) in Levels(fact.HandshakeCode, fact.ItemId))
        {
            for (var grain = 0; grain < 4; grain++)
            {
                Rollup(level, grain, code, item, count: 0, reports: 0, newDevice: false, newInstance: false, peakDevices: 0, peakInstances: 0, authorizations: 1, failed);
            }
        }
    }

    public void Add(UsageFact fact)
    {
        var client = ClientId(fact.ClientUuid);
        FillPeriods(TimeSlice.StartOf(fact.Slice));

        foreach (var (level, code, item) in Levels(fact.HandshakeCode, fact.ItemId))
        {
            if (level == 0)
            {
                for (var grain = 0; grain < 4; grain++)
                {
                    _newDevice[grain] = Device(grain, code, item, client, fact.Count, reports: 1, authorizations: 0, failed: 0) == 1;
                }
            }
            else
            {
                // Seen in a slice means seen in its hour, day and month: stop at the first grain that knew the device.
                var known = false;
                for (var grain = 0; grain < 4; grain++)
                {
                    _newDevice[grain] = !known && Seen(level, grain, code, item, client);
                    known = !_newDevice[grain];
                }
            }

            var newInstance = Instance(level, code, item, client, fact.InstanceId ?? string.Empty);
            var (sliceDevices, sliceInstances) = Rollup(level, 0, code, item, fact.Count, 1, _newDevice[0], newInstance, 0, 0, 0, 0);
            for (var grain = 1; grain < 4; grain++)
            {
                Rollup(level, grain, code, item, fact.Count, 1, _newDevice[grain], newInstance: false, sliceDevices, sliceInstances, 0, 0);
            }
        }

        if (fact.Features is not null)
        {
            foreach (var (feature, count) in fact.Features)
            {
                for (var grain = 0; grain < 4; grain++)
                {
                    Set(_feature, grain, _periods[grain], fact.HandshakeCode, fact.ItemId);
                    _feature.Parameters[4].Value = feature;
                    _feature.Parameters[5].Value = count;
                    _feature.ExecuteNonQuery();
                }
            }
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _device.Dispose();
        _seen.Dispose();
        _instance.Dispose();
        _rollup.Dispose();
        _feature.Dispose();
    }

    private static IEnumerable<(int Level, string Code, string Item)> Levels(string code, string item)
    {
        yield return (0, code, item);
        yield return (CodeLevel, code, string.Empty);
        yield return (ItemLevel, string.Empty, item);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }

    private void FillPeriods(DateTimeOffset slice)
    {
        var seconds = UsagePeriods.ToSeconds(slice);
        foreach (var grain in UsagePeriods.All)
        {
            _periods[(int)grain] = UsagePeriods.Floor(grain, seconds);
        }
    }

    private long ClientId(string clientUuid)
    {
        _client.Parameters[0].Value = clientUuid;
        return (long)_client.ExecuteScalar()!;
    }

    private long Device(int grain, string code, string item, long client, long count, int reports, int authorizations, int failed)
    {
        Set(_device, grain, _periods[grain], code, item, client, count, reports, authorizations, failed);
        return (long)_device.ExecuteScalar()!;
    }

    private bool Seen(int level, int grain, string code, string item, long client)
    {
        Set(_seen, level, grain, _periods[grain], code, item, client);
        return _seen.ExecuteNonQuery() == 1;
    }

    private bool Instance(int level, string code, string item, long client, string instance)
    {
        Set(_instance, level, _periods[0], code, item, client, instance);
        return _instance.ExecuteNonQuery() == 1;
    }

    private (long Devices, long Instances) Rollup(
        int level, int grain, string code, string item, long count, int reports, bool newDevice, bool newInstance,
        long peakDevices, long peakInstances, int authorizations, int failed)
    {
        Set(_rollup, level, grain, _periods[grain], code, item, count, reports, newDevice ? 1 : 0, newInstance ? 1 : 0,
            grain == 0 ? (newDevice ? 1 : 0) : peakDevices, grain == 0 ? (newInstance ? 1 : 0) : peakInstances, authorizations, failed);
        using var reader = _rollup.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
