namespace Dls.Core.Storage;

/// <summary>A delivery taken from the outbox, with its notification's stored payload.</summary>
internal sealed record StoredDelivery(long DeliveryId, long NotificationId, string Channel, int Attempts, int MaxAttempts, string Payload);

/// <summary>One row of the alert history: a notification and one of its deliveries (none: <see cref="Channel"/> is null).</summary>
internal sealed record StoredAlert(
    long NotificationId, DateTimeOffset Time, string Payload, string? Channel, string? Status, int Attempts,
    DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt, string? Error);

/// <summary>
/// The alerts aggregate: the alert settings (secrets already sealed by the caller), the fired levels of each
/// condition, and the outbox of notifications and their deliveries. Every method runs in the caller's
/// <see cref="UnitOfWork"/>; the levels, back-off and message format are the rules of <c>Alerts</c>.
/// </summary>
internal interface IAlertStore
{
    /// <summary>The stored settings by name.</summary>
    IReadOnlyDictionary<string, string> Settings(UnitOfWork work);

    /// <summary>Sets a setting, or removes it when <paramref name="value"/> is null or empty.</summary>
    void SetSetting(UnitOfWork work, string name, string? value, DateTimeOffset now);

    /// <summary>The levels each condition has fired and not yet re-armed, by condition key.</summary>
    IReadOnlyDictionary<string, HashSet<string>> FiredLevels(UnitOfWork work);

    void FireLevel(UnitOfWork work, string conditionKey, string level, DateTimeOffset now);

    void RearmLevel(UnitOfWork work, string conditionKey, string level);

    /// <summary>Re-arms every level of a condition that is gone.</summary>
    void RearmCondition(UnitOfWork work, string conditionKey);

    /// <summary>Adds a notification to the outbox and returns its id.</summary>
    long AddNotification(UnitOfWork work, DateTimeOffset time, string kind, string subject, string payload);

    /// <summary>Adds a pending delivery of a notification on a channel, due now.</summary>
    void AddDelivery(UnitOfWork work, long notificationId, string channel, int maxAttempts, DateTimeOffset now);

    /// <summary>Pending deliveries due at <paramref name="now"/> and not leased (of one notification, or all), oldest first.</summary>
    IReadOnlyList<StoredDelivery> DueDeliveries(UnitOfWork work, DateTimeOffset now, long? notificationId, int limit);

    /// <summary>Leases a delivery until <paramref name="until"/> (or releases it with null).</summary>
    void Lease(UnitOfWork work, long deliveryId, DateTimeOffset? until);

    /// <summary>Records an attempt's outcome and releases the lease.</summary>
    void RecordAttempt(UnitOfWork work, long deliveryId, string status, int attempts, DateTimeOffset now, DateTimeOffset? next, DateTimeOffset? deliveredAt, string error);

    /// <summary>The history of notifications from <paramref name="since"/> on, or of one notification.</summary>
    IReadOnlyList<StoredAlert> History(UnitOfWork work, DateTimeOffset? since, long? notificationId);
}
