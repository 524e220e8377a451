using System.Globalization;
using Dls.Core.Usage;
using System.Data.Common;

namespace Dls.Core.Storage.Sql;

/// <summary>The usage aggregate on both engines (tables usage_batch, usage_record (older raw records), auth_event, usage_rollup, usage_device, usage_seen, usage_instance_seen, usage_setting …).</summary>
internal sealed class SqlUsageStore : IUsageStore
{
    public IEnumerable<StoredUsageRow> UsageRows(UnitOfWork work, UsageGrouping by, int level, UsageFilter filter, UsageGrain grain, long lo, long hi)
    {
        var command = SqlUnitOfWork.Of(work).Command(by switch
        {
            UsageGrouping.Device => $"""
                SELECT d.period, c.client_uuid, '', '', sum(d.count), 0, 0, 0, sum(d.authorizations), sum(d.failed_authorizations)
                FROM usage_device d JOIN usage_client c ON c.id = d.client_id
                WHERE d.grain = $grain AND d.period >= $lo AND d.period < $hi{Filters(filter, "d.")}
                GROUP BY d.period, d.client_id, c.client_uuid;
                """,
            UsageGrouping.Feature => $"""
                SELECT period, feature, '', '', sum(count), 0, 0, 0, 0, 0
                FROM usage_feature
                WHERE grain = $grain AND period >= $lo AND period < $hi{Filters(filter, string.Empty)}
                GROUP BY period, feature;
                """,
            // The two key columns of a Code or Item row: the grouped column, and the other one when it is filtered on.
            _ => $"""
                SELECT period, {(by == UsageGrouping.Code ? "handshake_code, item_id" : "item_id, handshake_code")}, '', count, devices, peak_devices, peak_instances, authorizations, failed_authorizations
                FROM usage_rollup
                WHERE level = {level} AND grain = $grain AND period >= $lo AND period < $hi{Filters(filter, string.Empty)};
                """,
        });
        command.Parameters.AddWithValue("$grain", (int)grain);
        command.Parameters.AddWithValue("$lo", lo);
        command.Parameters.AddWithValue("$hi", hi);
        Bind(command, filter);
        return Rows(command);

        static IEnumerable<StoredUsageRow> Rows(DbCommand command)
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                yield return new StoredUsageRow(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5),
                    reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9));
            }
        }
    }

    public IEnumerable<(string Code, string Item, long Chunk, byte[] Bits)> DeviceSets(UnitOfWork work, int level, UsageGrain grain, UsageFilter filter, long lo, long hi)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            $"SELECT handshake_code, item_id, chunk, bits FROM usage_device_bits WHERE level = {level} AND grain = $g AND period >= $lo AND period < $hi{Filters(filter, string.Empty)};");
        command.Parameters.AddWithValue("$g", (int)grain);
        command.Parameters.AddWithValue("$lo", lo);
        command.Parameters.AddWithValue("$hi", hi);
        Bind(command, filter);
        return Chunks(command);

        static IEnumerable<(string, string, long, byte[])> Chunks(DbCommand command)
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                yield return (reader.GetString(0), reader.GetString(1), reader.GetInt64(2), (byte[])reader.GetValue(3));
            }
        }
    }

    public IEnumerable<(string Code, string Item, long Client)> DevicesSeen(UnitOfWork work, int level, UsageGrain grain, UsageFilter filter, long lo, long hi)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            $"SELECT handshake_code, item_id, client_id FROM {(level == 0 ? "usage_device" : "usage_seen")} WHERE {(level == 0 ? "reports > 0" : $"level = {level}")} AND grain = $g AND period >= $lo AND period < $hi{Filters(filter, string.Empty)};");
        command.Parameters.AddWithValue("$g", (int)grain);
        command.Parameters.AddWithValue("$lo", lo);
        command.Parameters.AddWithValue("$hi", hi);
        Bind(command, filter);
        return Devices(command);

        static IEnumerable<(string, string, long)> Devices(DbCommand command)
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                yield return (reader.GetString(0), reader.GetString(1), reader.GetInt64(2));
            }
        }
    }

    public long? FindClientId(UnitOfWork work, string clientUuid)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT id FROM usage_client WHERE client_uuid = $client;");
        command.Parameters.AddWithValue("$client", clientUuid);
        return command.ExecuteScalar() is long id ? id : null;
    }

    public bool HasContact(UnitOfWork work, UsageGrain grain, long period, string code, string item, long client)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT EXISTS (SELECT 1 FROM usage_device
                WHERE grain = $grain AND period = $top AND handshake_code = $code AND item_id = $item AND client_id = $id
                  AND (reports > 0 OR authorizations > failed_authorizations));
            """);
        BindDevice(command, grain, period, code, item, client);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    public long? NewestContact(UnitOfWork work, UsageGrain grain, long top, long bottom, long step, string code, string item, long client)
    {
        // The candidate periods are generated and each looked up by the full primary key, in one statement (CROSS JOIN
        // keeps the candidates the outer loop).
        var sql = SqlUnitOfWork.Of(work);
        var command = sql.Command($"""
            WITH RECURSIVE candidate (period) AS (
                SELECT CAST($top AS BIGINT) UNION ALL SELECT period - $step FROM candidate WHERE period - $step >= $bottom)
            SELECT max(d.period) FROM candidate c {sql.Dialect.OuterLoopJoin} usage_device d
                ON d.grain = $grain AND d.period = c.period AND d.handshake_code = $code AND d.item_id = $item AND d.client_id = $id
            WHERE d.reports > 0 OR d.authorizations > d.failed_authorizations;
            """);
        BindDevice(command, grain, top, code, item, client);
        command.Parameters.AddUnset("$bottom").Value = bottom;
        command.Parameters.AddUnset("$step").Value = step;
        return command.ExecuteScalar() is long found ? found : null;
    }

    public DateTimeOffset? FirstUsageDay(UnitOfWork work) =>
        SqlUnitOfWork.Of(work).Command("SELECT min(period) FROM usage_rollup WHERE level = 0 AND grain = 3;").ExecuteScalar() is long seconds
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    public bool HasCodeUsage(UnitOfWork work, string code)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT EXISTS (SELECT 1 FROM usage_rollup WHERE level = 1 AND grain = 3 AND handshake_code = $code);");
        command.Parameters.AddWithValue("$code", code);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) == 1;
    }

    public int? RetentionDays(UnitOfWork work) =>
        SqlUnitOfWork.Of(work).Command("SELECT value FROM usage_setting WHERE name = 'raw_retention_days';").ExecuteScalar() is string text
            ? int.Parse(text, CultureInfo.InvariantCulture)
            : null;

    public void SetRetentionDays(UnitOfWork work, int days)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO usage_setting (name, value) VALUES ('raw_retention_days', $days)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value;
            """);
        command.Parameters.AddWithValue("$days", days.ToString(CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }

    public long AddAuthorizationEvent(UnitOfWork work, AuthorizationFact fact)
    {
        var raw = SqlUsageWrites.Of(work).AuthEvent;
        raw.Parameters[0].Value = Timestamps.Format(fact.Time);
        raw.Parameters[1].Value = Timestamps.Format(TimeSlice.StartOf(fact.Time));
        raw.Parameters[2].Value = fact.HandshakeCode;
        raw.Parameters[3].Value = fact.ItemId;
        raw.Parameters[4].Value = fact.ClientUuid;
        raw.Parameters[5].Value = fact.ErrorCode;
        return Convert.ToInt64(raw.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public IReadOnlyList<(long Id, AuthorizationFact Fact)> RawAuthorizations(UnitOfWork work, long afterId, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "SELECT id, time, handshake_code, item_id, client_uuid, error_code FROM auth_event WHERE id > $after ORDER BY id LIMIT $limit;");
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$limit", limit);
        var facts = new List<(long, AuthorizationFact)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            facts.Add((reader.GetInt64(0), new AuthorizationFact(
                Timestamps.Parse(reader.GetString(1)), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5))));
        }

        return facts;
    }

    public long RolledUpThrough(UnitOfWork work, RollupSource source)
    {
        var command = SqlUnitOfWork.Of(work).Command("SELECT last_id FROM usage_rollup_mark WHERE source = $source;");
        command.Parameters.AddWithValue("$source", TableOf(source));
        return command.ExecuteScalar() is long id ? id : 0;
    }

    public void SetRolledUpThrough(UnitOfWork work, RollupSource source, long id)
    {
        var command = SqlUnitOfWork.Of(work).Command(
            "INSERT INTO usage_rollup_mark (source, last_id) VALUES ($source, $id) ON CONFLICT (source) DO UPDATE SET last_id = excluded.last_id;");
        command.Parameters.AddWithValue("$source", TableOf(source));
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }

    public long LastRawId(UnitOfWork work, RollupSource source) =>
        Convert.ToInt64(SqlUnitOfWork.Of(work).Command($"SELECT coalesce(max(id), 0) FROM {TableOf(source)};").ExecuteScalar(), CultureInfo.InvariantCulture);

    private static string TableOf(RollupSource source) => source switch
    {
        RollupSource.UsageBatch => "usage_batch",
        RollupSource.AuthEvent => "auth_event",
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };

    public bool BatchSeen(UnitOfWork work, string clientUuid, byte[] batchKey)
    {
        var seen = SqlUsageWrites.Of(work).BatchSeen;
        seen.Parameters[0].Value = clientUuid;
        seen.Parameters[1].Value = batchKey;
        return Convert.ToInt64(seen.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    public long? AddBatch(UnitOfWork work, long clientId, byte[] batchKey, DateTimeOffset receivedAt, string code, byte[] records)
    {
        var batch = SqlUsageWrites.Of(work).Batch;
        batch.Parameters[0].Value = clientId;
        batch.Parameters[1].Value = batchKey;
        batch.Parameters[2].Value = receivedAt.ToUnixTimeSeconds();
        batch.Parameters[3].Value = code;
        batch.Parameters[4].Value = records;
        return batch.ExecuteScalar() as long?;
    }

    public IReadOnlyList<RawUsageBatch> RawBatches(UnitOfWork work, long afterId, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT b.id, c.client_uuid, b.handshake_code, b.received_at, b.records
            FROM usage_batch b JOIN usage_client c ON c.id = b.client_id
            WHERE b.id > $after ORDER BY b.id LIMIT $limit;
            """);
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$limit", limit);
        var batches = new List<RawUsageBatch>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var received = DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(3));
            batches.Add(reader.IsDBNull(4)
                ? new RawUsageBatch(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), received, []) { Legacy = true }
                : new RawUsageBatch(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), received, RawUsageBatch.Decode(received, (byte[])reader[4])));
        }

        return batches;
    }

    public long ClientId(UnitOfWork work, string clientUuid)
    {
        var client = SqlUsageWrites.Of(work).Client;
        client.Parameters[0].Value = clientUuid;
        return Convert.ToInt64(client.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public long AddToDevice(UnitOfWork work, int grain, long period, string code, string item, long client, long count, long reports, long authorizations, long failed)
    {
        var device = SqlUsageWrites.Of(work).Device;
        SqlUsageWrites.Set(device, grain, period, code, item, client, count, reports, authorizations, failed);
        return Convert.ToInt64(device.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool MarkSeen(UnitOfWork work, int level, int grain, long period, string code, string item, long client)
    {
        var seen = SqlUsageWrites.Of(work).Seen;
        SqlUsageWrites.Set(seen, level, grain, period, code, item, client);
        return seen.ExecuteNonQuery() == 1;
    }

    public bool MarkInstanceSeen(UnitOfWork work, int level, long period, string code, string item, long client, string instance)
    {
        var seen = SqlUsageWrites.Of(work).Instance;
        SqlUsageWrites.Set(seen, level, period, code, item, client, instance);
        return seen.ExecuteNonQuery() == 1;
    }

    public (long Devices, long Instances) AddToRollup(UnitOfWork work, UsageRollupRow row)
    {
        var rollup = SqlUsageWrites.Of(work).Rollup;
        SqlUsageWrites.Set(rollup, row.Level, row.Grain, row.Period, row.Code, row.Item, row.Count, row.Reports, row.Devices, row.Instances,
            row.PeakDevices, row.PeakInstances, row.Authorizations, row.Failed);
        using var reader = rollup.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    public void AddToFeature(UnitOfWork work, int grain, long period, string code, string item, string feature, long count)
    {
        var command = SqlUsageWrites.Of(work).Feature;
        SqlUsageWrites.Set(command, grain, period, code, item, feature, count);
        command.ExecuteNonQuery();
    }

    public byte[]? DeviceBits(UnitOfWork work, DeviceBitsKey key)
    {
        var read = SqlUsageWrites.Of(work).ReadBits;
        SqlUsageWrites.Set(read, key.Level, key.Grain, key.Period, key.Code, key.Item, key.Chunk);
        return read.ExecuteScalar() as byte[];
    }

    public void SetDeviceBits(UnitOfWork work, DeviceBitsKey key, byte[] bits)
    {
        var write = SqlUsageWrites.Of(work).WriteBits;
        SqlUsageWrites.Set(write, key.Level, key.Grain, key.Period, key.Code, key.Item, key.Chunk, bits);
        write.ExecuteNonQuery();
    }

    public IReadOnlyList<string> FeatureNames(UnitOfWork work, string itemId)
    {
        var select = SqlUnitOfWork.Of(work).Command("SELECT feature FROM feature_name WHERE item_id = $item;");
        select.Parameters.AddWithValue("$item", itemId);
        using var reader = select.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    public void AddFeatureName(UnitOfWork work, string itemId, string feature)
    {
        var insert = SqlUnitOfWork.Of(work).Command("INSERT INTO feature_name (item_id, feature) VALUES ($item, $feature) ON CONFLICT DO NOTHING;");
        insert.Parameters.AddWithValue("$item", itemId);
        insert.Parameters.AddWithValue("$feature", feature);
        insert.ExecuteNonQuery();
    }

    public IReadOnlyList<(string Code, long Total, long Failed)> AuthorizationsByCode(UnitOfWork work, DateTimeOffset since, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT handshake_code, count(*), coalesce(sum(CASE WHEN error_code <> 0 THEN 1 ELSE 0 END), 0)
            FROM auth_event WHERE time >= $since AND time <= $now GROUP BY handshake_code;
            """);
        command.Parameters.AddWithValue("$since", Timestamps.Format(since));
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        using var reader = command.ExecuteReader();
        var counts = new List<(string, long, long)>();
        while (reader.Read())
        {
            counts.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return counts;
    }

    public long PurgeUsageRecords(UnitOfWork work, DateTimeOffset cutoff, int limit) =>
        Delete(work, "DELETE FROM usage_record WHERE id IN (SELECT id FROM usage_record WHERE slice < $cutoff LIMIT $limit);", Timestamps.Format(cutoff), limit);

    /// <remarks>
    /// Batches are numbered in the order they arrive, so the first one received at or after the cutoff is found by a
    /// binary search over the ids (a few index probes instead of a scan of every batch kept); only batches below it
    /// that were received before the cutoff are deleted (a clock set back cannot make a young batch go early).
    /// </remarks>
    public (long Batches, long Records) PurgeBatches(UnitOfWork work, DateTimeOffset cutoff, int limit)
    {
        var sqlite = SqlUnitOfWork.Of(work);
        var cutoffSeconds = cutoff.ToUnixTimeSeconds();
        var bounds = sqlite.Command("SELECT min(id), max(id) FROM usage_batch;");
        long lo, hi;
        using (var reader = bounds.ExecuteReader())
        {
            reader.Read();
            if (reader.IsDBNull(0))
            {
                return (0, 0);
            }

            (lo, hi) = (reader.GetInt64(0), reader.GetInt64(1) + 1);
        }

        // The smallest id whose batch (or the next kept one) was received at or after the cutoff; hi when none was.
        var probe = sqlite.Command("SELECT received_at FROM usage_batch WHERE id >= $id ORDER BY id LIMIT 1;");
        var id = probe.Parameters.AddUnset("$id");
        while (lo < hi)
        {
            var middle = lo + ((hi - lo) / 2);
            id.Value = middle;
            if (probe.ExecuteScalar() is long received && received < cutoffSeconds)
            {
                lo = middle + 1;
            }
            else
            {
                hi = middle;
            }
        }

        var delete = sqlite.Command(
            "DELETE FROM usage_batch WHERE id IN (SELECT id FROM usage_batch WHERE id < $bound AND received_at < $cutoff ORDER BY id LIMIT $limit) RETURNING records;");
        delete.Parameters.AddWithValue("$bound", lo);
        delete.Parameters.AddWithValue("$cutoff", cutoffSeconds);
        delete.Parameters.AddWithValue("$limit", limit);
        var (batches, records) = (0L, 0L);
        using (var deleted = delete.ExecuteReader())
        {
            while (deleted.Read())
            {
                batches++;
                records += deleted.IsDBNull(0) ? 0 : RawUsageBatch.RecordCount((byte[])deleted[0]);
            }
        }

        ResetMarkWhenEmpty(work, RollupSource.UsageBatch);
        return (batches, records);
    }

    public long PurgeAuthorizationEvents(UnitOfWork work, DateTimeOffset cutoff, int limit)
    {
        var deleted = Delete(work, "DELETE FROM auth_event WHERE id IN (SELECT id FROM auth_event WHERE time < $cutoff LIMIT $limit);", Timestamps.Format(cutoff), limit);
        ResetMarkWhenEmpty(work, RollupSource.AuthEvent);
        return deleted;
    }

    public long PurgeDevicePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_device", "grain, period, handshake_code, item_id, client_id", $"grain = {(int)grain}", cutoff, limit);

    public long PurgeSeenPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_seen", "level, grain, period, handshake_code, item_id, client_id", $"level IN (1, 2) AND grain = {(int)grain}", cutoff, limit);

    public long PurgeInstancesSeen(UnitOfWork work, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_instance_seen", "level, period, handshake_code, item_id, client_id, instance_id", "level IN (0, 1, 2)", cutoff, limit);

    public long PurgeRollupPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_rollup", "level, grain, period, handshake_code, item_id", $"level IN (0, 1, 2) AND grain = {(int)grain}", cutoff, limit);

    public long PurgeFeaturePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_feature", "grain, period, handshake_code, item_id, feature", $"grain = {(int)grain}", cutoff, limit);

    public long PurgeDeviceSets(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        DeletePeriods(work, "usage_device_bits", SqlUnitOfWork.Of(work).Dialect.RowId, $"level IN (0, 1, 2) AND grain = {(int)grain}", cutoff, limit);

    /// <summary>
    /// Deletes at most <paramref name="limit"/> rows of <paramref name="table"/> whose period is before <paramref name="cutoff"/>,
    /// picked by their <paramref name="key"/>. <paramref name="where"/> names the leading key columns (a level list included),
    /// so that the primary key (level, grain, period, …) finds the periods instead of a scan.
    /// </summary>
    private static long DeletePeriods(UnitOfWork work, string table, string key, string where, DateTimeOffset cutoff, int limit) =>
        Delete(work, $"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {where} AND period < $cutoff LIMIT $limit);",
            UsagePeriods.ToSeconds(cutoff), limit);

    /// <summary>An emptied raw table numbers its next rows from 1 again: its roll-up mark goes back to 0 with it.</summary>
    private static void ResetMarkWhenEmpty(UnitOfWork work, RollupSource source) =>
        SqlUnitOfWork.Of(work).Command(
            $"UPDATE usage_rollup_mark SET last_id = 0 WHERE source = '{TableOf(source)}' AND NOT EXISTS (SELECT 1 FROM {TableOf(source)});").ExecuteNonQuery();

    private static long Delete(UnitOfWork work, string sql, object cutoff, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command(sql);
        command.Parameters.AddWithValue("$cutoff", cutoff);
        command.Parameters.AddWithValue("$limit", limit);
        return command.ExecuteNonQuery();
    }

    private static string Filters(UsageFilter filter, string alias) =>
        (filter.Code is null ? string.Empty : $" AND {alias}handshake_code = $code") + (filter.Item is null ? string.Empty : $" AND {alias}item_id = $item");

    private static void Bind(DbCommand command, UsageFilter filter)
    {
        if (filter.Code is not null)
        {
            command.Parameters.AddWithValue("$code", filter.Code);
        }

        if (filter.Item is not null)
        {
            command.Parameters.AddWithValue("$item", filter.Item);
        }
    }

    private static void BindDevice(DbCommand command, UsageGrain grain, long top, string code, string item, long client)
    {
        command.Parameters.AddUnset("$grain").Value = (int)grain;
        command.Parameters.AddUnset("$top").Value = top;
        command.Parameters.AddUnset("$code").Value = code;
        command.Parameters.AddWithValue("$item", item);
        command.Parameters.AddUnset("$id").Value = client;
    }

    // Every report and authorization writes the device's row at every grain, and the month row is the last of them
    // retention removes, so a client without month rows has no per-device row left (nor "seen" rows, which come with them).
    // Its raw batches name it too (a batch may outlive the rows of the slices it carried by up to 30 days).
    public long PurgeUnusedClients(UnitOfWork work, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            DELETE FROM usage_client WHERE id IN (
                SELECT id FROM usage_client c WHERE id < (SELECT max(id) FROM usage_client)
                    AND NOT EXISTS (SELECT 1 FROM usage_batch b WHERE b.client_id = c.id)
                EXCEPT SELECT client_id FROM usage_device WHERE grain = 3
                LIMIT $limit);
            """);
        command.Parameters.AddWithValue("$limit", limit);
        return command.ExecuteNonQuery();
    }

    public DateTimeOffset? PurgedBefore(UnitOfWork work) =>
        SqlUnitOfWork.Of(work).Command("SELECT value FROM usage_setting WHERE name = 'purged_before';").ExecuteScalar() is string text
            ? DateTimeOffset.FromUnixTimeSeconds(long.Parse(text, CultureInfo.InvariantCulture))
            : null;

    public void SetPurgedBefore(UnitOfWork work, DateTimeOffset cutoff)
    {
        // Text like every usage setting; compared as a number.
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO usage_setting (name, value) VALUES ('purged_before', $cutoff)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE CAST(excluded.value AS BIGINT) > CAST(usage_setting.value AS BIGINT);
            """);
        command.Parameters.AddWithValue("$cutoff", UsagePeriods.ToSeconds(cutoff).ToString(CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }
}
