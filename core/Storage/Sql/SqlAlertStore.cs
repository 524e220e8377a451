using System.Globalization;

namespace Dls.Core.Storage.Sql;

/// <summary>The alerts aggregate on both engines (tables alert_setting, alert_level_state, alert_notification, alert_delivery).</summary>
internal sealed class SqlAlertStore : IAlertStore
{
    public IReadOnlyDictionary<string, string> Settings(UnitOfWork work)
    {
        using var reader = SqlUnitOfWork.Of(work).Command("SELECT name, value FROM alert_setting;").ExecuteReader();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            values[reader.GetString(0)] = reader.GetString(1);
        }

        return values;
    }

    public void SetSetting(UnitOfWork work, string name, string? value, DateTimeOffset now)
    {
        var sqlite = SqlUnitOfWork.Of(work);
        if (string.IsNullOrEmpty(value))
        {
            var delete = sqlite.Command("DELETE FROM alert_setting WHERE name = $name;");
            delete.Parameters.AddWithValue("$name", name);
            delete.ExecuteNonQuery();
            return;
        }

        var upsert = sqlite.Command("""
            INSERT INTO alert_setting (name, value, updated_at) VALUES ($name, $value, $now)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;
            """);
        upsert.Parameters.AddWithValue("$name", name);
        upsert.Parameters.AddWithValue("$value", value);
        upsert.Parameters.AddWithValue("$now", Timestamps.Format(now));
        upsert.ExecuteNonQuery();
    }

    public IReadOnlyDictionary<string, HashSet<string>> FiredLevels(UnitOfWork work)
    {
        var fired = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        using var reader = SqlUnitOfWork.Of(work).Command("SELECT condition_key, level FROM alert_level_state;").ExecuteReader();
        while (reader.Read())
        {
            var key = reader.GetString(0);
            if (!fired.TryGetValue(key, out var levels))
            {
                fired[key] = levels = new HashSet<string>(StringComparer.Ordinal);
            }

            levels.Add(reader.GetString(1));
        }

        return fired;
    }

    public void FireLevel(UnitOfWork work, string conditionKey, string level, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("INSERT INTO alert_level_state (condition_key, level, reached_at) VALUES ($key, $level, $now);");
        command.Parameters.AddWithValue("$key", conditionKey);
        command.Parameters.AddWithValue("$level", level);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public void RearmLevel(UnitOfWork work, string conditionKey, string level)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM alert_level_state WHERE condition_key = $key AND level = $level;");
        command.Parameters.AddWithValue("$key", conditionKey);
        command.Parameters.AddWithValue("$level", level);
        command.ExecuteNonQuery();
    }

    public void RearmCondition(UnitOfWork work, string conditionKey)
    {
        var command = SqlUnitOfWork.Of(work).Command("DELETE FROM alert_level_state WHERE condition_key = $key;");
        command.Parameters.AddWithValue("$key", conditionKey);
        command.ExecuteNonQuery();
    }

    public long AddNotification(UnitOfWork work, DateTimeOffset time, string kind, string subject, string payload)
    {
        var command = SqlUnitOfWork.Of(work).Command("INSERT INTO alert_notification (time, kind, subject, payload) VALUES ($time, $kind, $subject, $payload) RETURNING id;");
        command.Parameters.AddWithValue("$time", Timestamps.Format(time));
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$subject", subject);
        command.Parameters.AddWithValue("$payload", payload);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    public void AddDelivery(UnitOfWork work, long notificationId, string channel, int maxAttempts, DateTimeOffset now)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            INSERT INTO alert_delivery (notification_id, channel, status, max_attempts, next_attempt_at)
            VALUES ($id, $channel, 'Pending', $max, $now);
            """);
        command.Parameters.AddWithValue("$id", notificationId);
        command.Parameters.AddWithValue("$channel", channel);
        command.Parameters.AddWithValue("$max", maxAttempts);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredDelivery> DueDeliveries(UnitOfWork work, DateTimeOffset now, long? notificationId, int limit)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT d.id, d.notification_id, d.channel, d.attempts, d.max_attempts, n.payload
            FROM alert_delivery d JOIN alert_notification n ON n.id = d.notification_id
            WHERE d.status = 'Pending' AND d.next_attempt_at <= $now AND (d.lease_until IS NULL OR d.lease_until <= $now)
              AND (CAST($id AS BIGINT) IS NULL OR d.notification_id = CAST($id AS BIGINT))
            ORDER BY d.id LIMIT $limit;
            """);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$id", notificationId is null ? DBNull.Value : notificationId.Value);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var due = new List<StoredDelivery>();
        while (reader.Read())
        {
            due.Add(new StoredDelivery(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetString(5)));
        }

        return due;
    }

    public void Lease(UnitOfWork work, long deliveryId, DateTimeOffset? until)
    {
        var command = SqlUnitOfWork.Of(work).Command("UPDATE alert_delivery SET lease_until = $until WHERE id = $id;");
        command.Parameters.AddWithValue("$until", until is null ? DBNull.Value : Timestamps.Format(until.Value));
        command.Parameters.AddWithValue("$id", deliveryId);
        command.ExecuteNonQuery();
    }

    public void RecordAttempt(UnitOfWork work, long deliveryId, string status, int attempts, DateTimeOffset now, DateTimeOffset? next, DateTimeOffset? deliveredAt, string error)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            UPDATE alert_delivery SET status = $status, attempts = $attempts, last_attempt_at = $now, lease_until = NULL,
                next_attempt_at = $next, delivered_at = $delivered, error = $error
            WHERE id = $id;
            """);
        command.Parameters.AddWithValue("$status", status);
        command.Parameters.AddWithValue("$attempts", attempts);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$next", next is null ? DBNull.Value : Timestamps.Format(next.Value));
        command.Parameters.AddWithValue("$delivered", deliveredAt is null ? DBNull.Value : Timestamps.Format(deliveredAt.Value));
        command.Parameters.AddWithValue("$error", error);
        command.Parameters.AddWithValue("$id", deliveryId);
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredAlert> History(UnitOfWork work, DateTimeOffset? since, long? notificationId)
    {
        var command = SqlUnitOfWork.Of(work).Command("""
            SELECT n.id, n.time, n.payload, d.channel, d.status, d.attempts, d.next_attempt_at, d.delivered_at, d.error
            FROM alert_notification n LEFT JOIN alert_delivery d ON d.notification_id = n.id
            WHERE (CAST($id AS BIGINT) IS NULL OR n.id = CAST($id AS BIGINT)) AND ($since IS NULL OR n.time >= $since) ORDER BY n.id, d.id;
            """);
        command.Parameters.AddWithValue("$id", notificationId is null ? DBNull.Value : notificationId.Value);
        command.Parameters.AddWithValue("$since", since is null ? DBNull.Value : Timestamps.Format(since.Value));
        using var reader = command.ExecuteReader();
        var rows = new List<StoredAlert>();
        while (reader.Read())
        {
            var noChannel = reader.IsDBNull(3);
            rows.Add(new StoredAlert(
                reader.GetInt64(0),
                Timestamps.Parse(reader.GetString(1)),
                reader.GetString(2),
                noChannel ? null : reader.GetString(3),
                noChannel ? null : reader.GetString(4),
                noChannel ? 0 : reader.GetInt32(5),
                noChannel || reader.IsDBNull(6) ? null : Timestamps.Parse(reader.GetString(6)),
                noChannel || reader.IsDBNull(7) ? null : Timestamps.Parse(reader.GetString(7)),
                noChannel ? null : reader.GetString(8)));
        }

        return rows;
    }
}
