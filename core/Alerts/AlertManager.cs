using System.Globalization;
using System.Text.Json;
using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Alerts;

/// <summary>What one check found and what became of its notification.</summary>
/// <param name="NotificationId">Null when no condition newly reached a level (nothing is sent).</param>
public sealed record AlertCheckResult(long? NotificationId, IReadOnlyList<AlertFinding> Findings, IReadOnlyList<AlertDeliveryResult> Deliveries);

/// <summary>
/// Alerts (SPEC §6): evaluates the conditions with hysteresis kept in the store, queues one notification per
/// check in the outbox and delivers it on every configured channel, retrying failures with back-off.
/// Used by the listener's background service (every 10 minutes) and by the cmdlets.
/// </summary>
public sealed class AlertManager
{
    /// <summary>Attempts of a check's delivery before it is given up (back-off 1, 2, 4 … 60 minutes: about 4 hours).</summary>
    public const int MaxAttempts = 10;

    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(60);

    /// <summary>How long a process holds a delivery it is attempting, so the listener and a cmdlet never send it twice.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly DlsStore _store;
    private readonly TimeProvider _time;
    private readonly IAlertMeasurements _measurements;
    private readonly AlertSettingsService _settings;
    private readonly Dictionary<AlertChannelKind, IAlertChannel> _channels = new()
    {
        [AlertChannelKind.Email] = new EmailChannel(),
        [AlertChannelKind.Webhook] = new WebhookChannel(),
    };

    public AlertManager(DlsStore store, TimeProvider time, IAlertMeasurements? measurements = null)
    {
        _store = store;
        _time = time;
        _measurements = measurements ?? new StoreAlertMeasurements(store);
        _settings = new AlertSettingsService(store, time);
    }

    /// <summary>The wait before attempt <paramref name="failedAttempts"/> + 1: 1, 2, 4, 8 … minutes, at most <see cref="MaxBackoff"/>.</summary>
    public static TimeSpan Backoff(int failedAttempts) =>
        TimeSpan.FromMinutes(Math.Min(MaxBackoff.TotalMinutes, Math.Pow(2, Math.Max(0, failedAttempts - 1))));

    /// <summary>
    /// Evaluates every condition now and records the levels reached; when one newly reached a level, queues one
    /// notification carrying all of them on every configured channel. With <paramref name="dryRun"/>, only
    /// says what a check would find and changes nothing.
    /// </summary>
    public (long? NotificationId, IReadOnlyList<AlertFinding> Findings) Evaluate(bool dryRun = false)
    {
        var now = _time.GetUtcNow();
        var readings = AlertRules.Readings(_measurements.Items(now), _measurements.Authorizations(now - AlertRules.FailureWindow, now), now).ToList();
        var server = new ServerService(_store, _time).Get();
        var channels = _settings.Get() is var info ? Channels(info) : [];

        using var connection = _store.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        var findings = UpdateLevels(connection, transaction, readings, now);
        long? id = null;
        if (findings.Count > 0)
        {
            var message = Compose(AlertMessage.CheckKind, now, server, findings);
            id = Enqueue(connection, transaction, message, channels, MaxAttempts, now);
        }

        if (!dryRun)
        {
            transaction.Commit();
        }

        return (dryRun ? null : id, findings);
    }

    /// <summary>Evaluates now and sends what it found at once (failures stay in the outbox for retries).</summary>
    public async Task<AlertCheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        var (id, findings) = Evaluate();
        var deliveries = id is null ? [] : await DeliverAsync(id.Value, cancellationToken).ConfigureAwait(false);
        return new AlertCheckResult(id, findings, deliveries);
    }

    /// <summary>Sends a test notification on every configured channel now; one attempt, the result in Get-DlsAlert.</summary>
    public async Task<AlertCheckResult> SendTestAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var channels = Channels(_settings.Get());
        if (channels.Count == 0)
        {
            throw new DlsException(
                ErrorIds.AlertChannelNotConfigured,
                DlsErrorKind.InvalidOperation,
                "No alert channel is configured: set an SMTP server, a sender and a recipient, or a webhook URL, with Set-DlsAlertSetting.");
        }

        var server = new ServerService(_store, _time).Get();
        var finding = new AlertFinding(AlertCondition.Test, "test", AlertSeverity.Info, "alert channels", string.Empty, string.Empty, [], 0,
            "test notification", "nothing: this only shows that the alert channels work");
        var message = Compose(AlertMessage.TestKind, now, server, [finding]);
        var id = _store.Write((connection, transaction) => Enqueue(connection, transaction, message, channels, maxAttempts: 1, now));
        var deliveries = await DeliverAsync(id, cancellationToken).ConfigureAwait(false);
        return new AlertCheckResult(id, [finding], deliveries);
    }

    /// <summary>Attempts every delivery whose retry is due; returns what was attempted. Never throws for a channel's failure.</summary>
    public async Task<IReadOnlyList<AlertDeliveryResult>> ProcessOutboxAsync(CancellationToken cancellationToken)
    {
        var due = Claim(null);
        return await AttemptAllAsync(due, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Get-DlsAlert: one row per condition and channel of each notification since <paramref name="since"/>.</summary>
    public IReadOnlyList<AlertRecord> List(DateTimeOffset? since) => Records("n.time >= $p", Timestamps.Format(since ?? DateTimeOffset.MinValue));

    public IReadOnlyList<AlertRecord> ListNotification(long notificationId) => Records("n.id = $p", notificationId);

    private async Task<IReadOnlyList<AlertDeliveryResult>> DeliverAsync(long notificationId, CancellationToken cancellationToken) =>
        await AttemptAllAsync(Claim(notificationId), cancellationToken).ConfigureAwait(false);

    private static List<AlertChannelKind> Channels(AlertSettingInfo info)
    {
        var channels = new List<AlertChannelKind>();
        if (info.EmailEnabled)
        {
            channels.Add(AlertChannelKind.Email);
        }

        if (info.WebhookEnabled)
        {
            channels.Add(AlertChannelKind.Webhook);
        }

        return channels;
    }

    /// <summary>
    /// The hysteresis: a level is "fired" (a row in alert_level_state) from the check that finds it reached and
    /// notifies, until a check finds the value below it. Only the highest newly reached level of a condition is
    /// reported; lower ones reached in the same jump are recorded as fired without a message of their own.
    /// </summary>
    private static List<AlertFinding> UpdateLevels(SqliteConnection connection, SqliteTransaction transaction, List<ConditionReading> readings, DateTimeOffset now)
    {
        var fired = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = "SELECT condition_key, level FROM alert_level_state;";
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                var key = reader.GetString(0);
                if (!fired.TryGetValue(key, out var levels))
                {
                    fired[key] = levels = new HashSet<string>(StringComparer.Ordinal);
                }

                levels.Add(reader.GetString(1));
            }
        }

        var findings = new List<AlertFinding>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var reading in readings)
        {
            seen.Add(reading.Key);
            var before = fired.TryGetValue(reading.Key, out var f) ? f : [];
            var reached = reading.Levels.Where(reading.Reached).ToList();
            var newly = reached.Where(l => !before.Contains(l.Name)).ToList();
            foreach (var rearmed in before.Where(name => !reached.Any(l => l.Name == name)))
            {
                Execute(connection, transaction, "DELETE FROM alert_level_state WHERE condition_key = $key AND level = $level;", reading.Key, rearmed, null);
            }

            foreach (var level in newly)
            {
                Execute(connection, transaction, "INSERT INTO alert_level_state (condition_key, level, reached_at) VALUES ($key, $level, $now);", reading.Key, level.Name, now);
            }

            if (newly.Count > 0)
            {
                findings.Add(reading.FindingAt(newly[^1]));
            }
        }

        // A condition that is gone (item removed or revoked, code deleted) re-arms entirely.
        foreach (var key in fired.Keys.Where(k => !seen.Contains(k)))
        {
            Execute(connection, transaction, "DELETE FROM alert_level_state WHERE condition_key = $key;", key, null, null);
        }

        return findings
            .OrderByDescending(x => x.Severity)
            .ThenBy(x => x.Condition)
            .ThenBy(x => x.Target, StringComparer.Ordinal)
            .ToList();
    }

    private static AlertMessage Compose(string kind, DateTimeOffset now, ServerInfo server, IReadOnlyList<AlertFinding> findings)
    {
        var worst = findings.Max(f => f.Severity);
        string subject;
        if (kind == AlertMessage.TestKind)
        {
            subject = "[DLS] Test notification";
        }
        else
        {
            var first = findings[0];
            subject = $"[DLS {worst}] {AlertEmail.ConditionName(first.Condition)} {first.Level}: {first.Target}"
                + (findings.Count > 1 ? $" (+{findings.Count - 1} more)" : string.Empty);
        }

        return new AlertMessage(kind, now, server.Uuid, server.OrganizationId, subject, worst, findings);
    }

    private static long Enqueue(SqliteConnection connection, SqliteTransaction transaction, AlertMessage message, IReadOnlyList<AlertChannelKind> channels, int maxAttempts, DateTimeOffset now)
    {
        long id;
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO alert_notification (time, kind, subject, payload) VALUES ($time, $kind, $subject, $payload) RETURNING id;";
            insert.Parameters.AddWithValue("$time", Timestamps.Format(now));
            insert.Parameters.AddWithValue("$kind", message.Kind);
            insert.Parameters.AddWithValue("$subject", message.Subject);
            insert.Parameters.AddWithValue("$payload", JsonSerializer.Serialize(message, Json));
            id = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        foreach (var channel in channels)
        {
            using var delivery = connection.CreateCommand();
            delivery.Transaction = transaction;
            delivery.CommandText = """
                INSERT INTO alert_delivery (notification_id, channel, status, max_attempts, next_attempt_at)
                VALUES ($id, $channel, 'Pending', $max, $now);
                """;
            delivery.Parameters.AddWithValue("$id", id);
            delivery.Parameters.AddWithValue("$channel", channel.ToString());
            delivery.Parameters.AddWithValue("$max", maxAttempts);
            delivery.Parameters.AddWithValue("$now", Timestamps.Format(now));
            delivery.ExecuteNonQuery();
        }

        return id;
    }

    private sealed record Claimed(long DeliveryId, long NotificationId, AlertChannelKind Channel, int Attempts, int MaxAttempts, AlertMessage Message);

    /// <summary>Takes the due deliveries (of one notification, or all) under a lease, in one write transaction.</summary>
    private List<Claimed> Claim(long? notificationId)
    {
        var now = _time.GetUtcNow();
        return _store.Write((connection, transaction) =>
        {
            var claimed = new List<Claimed>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = """
                    SELECT d.id, d.notification_id, d.channel, d.attempts, d.max_attempts, n.payload
                    FROM alert_delivery d JOIN alert_notification n ON n.id = d.notification_id
                    WHERE d.status = 'Pending' AND d.next_attempt_at <= $now AND (d.lease_until IS NULL OR d.lease_until <= $now)
                      AND ($id IS NULL OR d.notification_id = $id)
                    ORDER BY d.id LIMIT 50;
                    """;
                select.Parameters.AddWithValue("$now", Timestamps.Format(now));
                select.Parameters.AddWithValue("$id", notificationId is null ? DBNull.Value : notificationId.Value);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    claimed.Add(new Claimed(
                        reader.GetInt64(0),
                        reader.GetInt64(1),
                        Enum.Parse<AlertChannelKind>(reader.GetString(2)),
                        reader.GetInt32(3),
                        reader.GetInt32(4),
                        JsonSerializer.Deserialize<AlertMessage>(reader.GetString(5), Json)!));
                }
            }

            foreach (var c in claimed)
            {
                using var lease = connection.CreateCommand();
                lease.Transaction = transaction;
                lease.CommandText = "UPDATE alert_delivery SET lease_until = $until WHERE id = $id;";
                lease.Parameters.AddWithValue("$until", Timestamps.Format(now + Lease));
                lease.Parameters.AddWithValue("$id", c.DeliveryId);
                lease.ExecuteNonQuery();
            }

            return claimed;
        });
    }

    private async Task<IReadOnlyList<AlertDeliveryResult>> AttemptAllAsync(List<Claimed> claimed, CancellationToken cancellationToken)
    {
        if (claimed.Count == 0)
        {
            return [];
        }

        AlertSettings? settings = null;
        string? settingsError = null;
        try
        {
            settings = _settings.Load();
        }
        catch (DlsException error)
        {
            settingsError = error.Message;
        }

        // Channels are independent: a slow SMTP server does not hold the webhook back.
        var attempts = claimed.Select(c => AttemptAsync(c, settings, settingsError, cancellationToken));
        return await Task.WhenAll(attempts).ConfigureAwait(false);
    }

    private async Task<AlertDeliveryResult> AttemptAsync(Claimed c, AlertSettings? settings, string? settingsError, CancellationToken cancellationToken)
    {
        string error;
        if (settings is null)
        {
            error = settingsError ?? "the alert settings cannot be read";
        }
        else
        {
            try
            {
                await _channels[c.Channel].SendAsync(c.NotificationId, c.Message, settings, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                error = string.Empty;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopping: give the delivery back untouched for the next process to try.
                Release(c.DeliveryId);
                throw;
            }
            catch (Exception failure) when (failure is not OutOfMemoryException)
            {
                error = Describe(failure);
            }
        }

        return Record(c, error);
    }

    private static string Describe(Exception failure)
    {
        var message = failure.Message;
        for (var inner = failure.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!message.Contains(inner.Message, StringComparison.Ordinal))
            {
                message += " " + inner.Message;
            }
        }

        return failure is OperationCanceledException or TimeoutException ? "timed out: " + message : message;
    }

    private AlertDeliveryResult Record(Claimed c, string error)
    {
        var now = _time.GetUtcNow();
        var attempts = c.Attempts + 1;
        var delivered = error.Length == 0;
        DateTimeOffset? next = delivered || attempts >= c.MaxAttempts ? null : now + Backoff(attempts);
        var status = delivered ? "Delivered" : next is null ? "Failed" : "Pending";
        _store.Write((connection, transaction) =>
        {
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = """
                UPDATE alert_delivery SET status = $status, attempts = $attempts, last_attempt_at = $now, lease_until = NULL,
                    next_attempt_at = $next, delivered_at = $delivered, error = $error
                WHERE id = $id;
                """;
            update.Parameters.AddWithValue("$status", status);
            update.Parameters.AddWithValue("$attempts", attempts);
            update.Parameters.AddWithValue("$now", Timestamps.Format(now));
            update.Parameters.AddWithValue("$next", next is null ? DBNull.Value : Timestamps.Format(next.Value));
            update.Parameters.AddWithValue("$delivered", delivered ? Timestamps.Format(now) : DBNull.Value);
            update.Parameters.AddWithValue("$error", error);
            update.Parameters.AddWithValue("$id", c.DeliveryId);
            update.ExecuteNonQuery();
        });
        return new AlertDeliveryResult(c.NotificationId, c.Channel, delivered, error, attempts, next);
    }

    private void Release(long deliveryId) => _store.Write((connection, transaction) =>
        Execute(connection, transaction, "UPDATE alert_delivery SET lease_until = NULL WHERE id = $key;", deliveryId, null, null));

    private List<AlertRecord> Records(string where, object parameter) => _store.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT n.id, n.time, n.payload, d.channel, d.status, d.attempts, d.next_attempt_at, d.delivered_at, d.error
            FROM alert_notification n LEFT JOIN alert_delivery d ON d.notification_id = n.id
            WHERE {where} ORDER BY n.id, d.id;
            """;
        command.Parameters.AddWithValue("$p", parameter);
        using var reader = command.ExecuteReader();
        var records = new List<AlertRecord>();
        while (reader.Read())
        {
            var id = reader.GetInt64(0);
            var time = Timestamps.Parse(reader.GetString(1)).UtcDateTime;
            var message = JsonSerializer.Deserialize<AlertMessage>(reader.GetString(2), Json)!;
            var noChannel = reader.IsDBNull(3);
            var channel = noChannel ? "(none)" : reader.GetString(3);
            var delivered = !noChannel && reader.GetString(4) == "Delivered";
            var attempts = noChannel ? 0 : reader.GetInt32(5);
            DateTime? next = noChannel || reader.IsDBNull(6) ? null : Timestamps.Parse(reader.GetString(6)).UtcDateTime;
            DateTime? deliveredAt = noChannel || reader.IsDBNull(7) ? null : Timestamps.Parse(reader.GetString(7)).UtcDateTime;
            var error = noChannel ? "no alert channel is configured (Set-DlsAlertSetting)" : reader.GetString(8);
            if (!noChannel && !delivered && error.Length == 0)
            {
                error = "not attempted yet";
            }

            foreach (var f in message.Conditions)
            {
                records.Add(new AlertRecord(time, f.Condition, f.Level, f.Target, f.ValueText, channel, delivered, error, f.Severity, id, attempts, next, deliveredAt, f.NextStep));
            }
        }

        return records;
    });

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, object key, string? level, DateTimeOffset? now)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$key", key);
        if (level is not null)
        {
            command.Parameters.AddWithValue("$level", level);
        }

        if (now is not null)
        {
            command.Parameters.AddWithValue("$now", Timestamps.Format(now.Value));
        }

        command.ExecuteNonQuery();
    }
}
