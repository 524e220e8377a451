using System.Globalization;
using System.Text.Json;
using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;

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

        // A dry run does the same work and rolls it back: it says what a check would find and changes nothing.
        using var work = _store.BeginWrite();
        try
        {
            var findings = UpdateLevels(work, readings, now);
            long? id = null;
            if (findings.Count > 0)
            {
                var message = Compose(AlertMessage.CheckKind, now, server, findings);
                id = Enqueue(work, message, channels, MaxAttempts, now);
            }

            if (!dryRun)
            {
                work.Commit();
            }

            return (dryRun ? null : id, findings);
        }
        catch (Exception error) when (work.IsStoreFailure(error))
        {
            throw work.Translate(error);
        }
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
        var id = _store.Write(work => Enqueue(work, message, channels, maxAttempts: 1, now));
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
    public IReadOnlyList<AlertRecord> List(DateTimeOffset? since) => Records(since, null);

    public IReadOnlyList<AlertRecord> ListNotification(long notificationId) => Records(null, notificationId);

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
    private static List<AlertFinding> UpdateLevels(UnitOfWork work, List<ConditionReading> readings, DateTimeOffset now)
    {
        var alerts = work.Stores.Alerts;
        var fired = alerts.FiredLevels(work);
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
                alerts.RearmLevel(work, reading.Key, rearmed);
            }

            foreach (var level in newly)
            {
                alerts.FireLevel(work, reading.Key, level.Name, now);
            }

            if (newly.Count > 0)
            {
                findings.Add(reading.FindingAt(newly[^1]));
            }
        }

        // A condition that is gone (item removed or revoked, code deleted) re-arms entirely.
        foreach (var key in fired.Keys.Where(k => !seen.Contains(k)))
        {
            alerts.RearmCondition(work, key);
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

    private static long Enqueue(UnitOfWork work, AlertMessage message, IReadOnlyList<AlertChannelKind> channels, int maxAttempts, DateTimeOffset now)
    {
        var id = work.Stores.Alerts.AddNotification(work, now, message.Kind, message.Subject, JsonSerializer.Serialize(message, Json));
        foreach (var channel in channels)
        {
            work.Stores.Alerts.AddDelivery(work, id, channel.ToString(), maxAttempts, now);
        }

        return id;
    }

    private sealed record Claimed(long DeliveryId, long NotificationId, AlertChannelKind Channel, int Attempts, int MaxAttempts, AlertMessage Message);

    /// <summary>Takes the due deliveries (of one notification, or all) under a lease, in one write transaction.</summary>
    private List<Claimed> Claim(long? notificationId)
    {
        var now = _time.GetUtcNow();
        return _store.Write(work =>
        {
            var claimed = work.Stores.Alerts.DueDeliveries(work, now, notificationId, limit: 50)
                .Select(d => new Claimed(
                    d.DeliveryId,
                    d.NotificationId,
                    Enum.Parse<AlertChannelKind>(d.Channel),
                    d.Attempts,
                    d.MaxAttempts,
                    JsonSerializer.Deserialize<AlertMessage>(d.Payload, Json)!))
                .ToList();
            foreach (var c in claimed)
            {
                work.Stores.Alerts.Lease(work, c.DeliveryId, now + Lease);
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
        _store.Write(work => work.Stores.Alerts.RecordAttempt(work, c.DeliveryId, status, attempts, now, next, delivered ? now : null, error));
        return new AlertDeliveryResult(c.NotificationId, c.Channel, delivered, error, attempts, next);
    }

    private void Release(long deliveryId) => _store.Write(work => work.Stores.Alerts.Lease(work, deliveryId, null));

    private List<AlertRecord> Records(DateTimeOffset? since, long? notificationId) => _store.Query(work =>
    {
        var records = new List<AlertRecord>();
        foreach (var row in work.Stores.Alerts.History(work, since, notificationId))
        {
            var id = row.NotificationId;
            var time = row.Time.UtcDateTime;
            var message = JsonSerializer.Deserialize<AlertMessage>(row.Payload, Json)!;
            var noChannel = row.Channel is null;
            var channel = row.Channel ?? "(none)";
            var delivered = row.Status == "Delivered";
            var attempts = row.Attempts;
            DateTime? next = row.NextAttemptAt?.UtcDateTime;
            DateTime? deliveredAt = row.DeliveredAt?.UtcDateTime;
            var error = row.Error ?? "no alert channel is configured (Set-DlsAlertSetting)";
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
}
