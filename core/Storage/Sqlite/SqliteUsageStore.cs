using System.Globalization;
using Dls.Core.Usage;

namespace Dls.Core.Storage.Sqlite;

/// <summary>The usage aggregate on SQLite (tables usage_record, auth_event, usage_rollup, usage_device, usage_seen, usage_instance_seen, usage_setting …).</summary>
internal sealed class SqliteUsageStore : IUsageStore
{
    public int? RetentionDays(UnitOfWork work) =>
        SqliteUnitOfWork.Of(work).Command("SELECT value FROM usage_setting WHERE name = 'raw_retention_days';").ExecuteScalar() is string text
            ? int.Parse(text, CultureInfo.InvariantCulture)
            : null;

    public void SetRetentionDays(UnitOfWork work, int days)
    {
        var command = SqliteUnitOfWork.Of(work).Command("""
            INSERT INTO usage_setting (name, value) VALUES ('raw_retention_days', $days)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value;
            """);
        command.Parameters.AddWithValue("$days", days.ToString(CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<(string Code, long Total, long Failed)> AuthorizationsByCode(UnitOfWork work, DateTimeOffset since, DateTimeOffset now)
    {
        var command = SqliteUnitOfWork.Of(work).Command("""
            SELECT handshake_code, count(*), coalesce(sum(error_code <> 0), 0)
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

    public long PurgeAuthorizationEvents(UnitOfWork work, DateTimeOffset cutoff, int limit) =>
        Delete(work, "DELETE FROM auth_event WHERE id IN (SELECT id FROM auth_event WHERE time < $cutoff LIMIT $limit);", Timestamps.Format(cutoff), limit);

    public long PurgeDevicePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        Delete(work, $"""
            DELETE FROM usage_device WHERE (grain, period, handshake_code, item_id, client_id) IN (
                SELECT grain, period, handshake_code, item_id, client_id FROM usage_device
                WHERE grain = {(int)grain} AND period < $cutoff LIMIT $limit);
            """, UsagePeriods.ToSeconds(cutoff), limit);

    public long PurgeSeenPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit) =>
        Delete(work, $"""
            DELETE FROM usage_seen WHERE (level, grain, period, handshake_code, item_id, client_id) IN (
                SELECT level, grain, period, handshake_code, item_id, client_id FROM usage_seen
                WHERE level IN (1, 2) AND grain = {(int)grain} AND period < $cutoff LIMIT $limit);
            """, UsagePeriods.ToSeconds(cutoff), limit);

    // The level list lets the primary key (level, period, ...) find the periods.
    public long PurgeInstancesSeen(UnitOfWork work, DateTimeOffset cutoff, int limit) =>
        Delete(work, """
            DELETE FROM usage_instance_seen WHERE (level, period, handshake_code, item_id, client_id, instance_id) IN (
                SELECT level, period, handshake_code, item_id, client_id, instance_id FROM usage_instance_seen
                WHERE level IN (0, 1, 2) AND period < $cutoff LIMIT $limit);
            """, UsagePeriods.ToSeconds(cutoff), limit);

    private static long Delete(UnitOfWork work, string sql, object cutoff, int limit)
    {
        var command = SqliteUnitOfWork.Of(work).Command(sql);
        command.Parameters.AddWithValue("$cutoff", cutoff);
        command.Parameters.AddWithValue("$limit", limit);
        return command.ExecuteNonQuery();
    }
}
