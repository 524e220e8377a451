using System.Text.Json.Serialization;

namespace Dls.Core.Alerts;

/// <summary>What an alert is about (SPEC §6). The names appear in Get-DlsAlert and in the webhook body.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AlertCondition>))]
public enum AlertCondition
{
    /// <summary>Per-device, per-server or per-domain item: active devices (servers, domains) ÷ quantity.</summary>
    DeviceQuota,

    /// <summary>Per-scan or per-page item: counted ÷ quantity.</summary>
    CountQuota,

    /// <summary>Concurrent item: share of the over-quota tolerance (extra device- or instance-slices) used.</summary>
    ConcurrentTolerance,

    /// <summary>Handshake code: refused ÷ all authorizations over the last hour.</summary>
    FailedAuthorizations,

    /// <summary>Item expiry: 30, 7, 1 day before and on expiry.</summary>
    Expiry,

    /// <summary>A test notification sent by Send-DlsTestAlert.</summary>
    Test,
}

/// <summary>How urgent a level is; the worst one in a notification goes into its subject.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AlertSeverity>))]
public enum AlertSeverity
{
    Info,
    Warning,
    Critical,
}

/// <summary>The channels a notification goes out on.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AlertChannelKind>))]
public enum AlertChannelKind
{
    Email,
    Webhook,
}

/// <summary>
/// One condition that newly reached a level in a check: what the e-mail's table row and the webhook's
/// <c>conditions[]</c> entry say.
/// </summary>
/// <param name="Level">The level reached, as people read it: "80 %", "7 days", "expired".</param>
/// <param name="Target">What the condition is about: an item id, or a handshake code for failed authorizations.</param>
/// <param name="ItemId">The item, empty for a handshake-code condition.</param>
/// <param name="HandshakeCodes">The codes that hand out the item, or the one code of a failed-authorization condition.</param>
/// <param name="Value">The measured value in the level's unit: percent, or days left before expiry.</param>
/// <param name="ValueText">The value for a person: "85 % (17 of 20 devices)".</param>
/// <param name="NextStep">What happens next: "at 110 % new devices are refused (error 120)".</param>
public sealed record AlertFinding(
    AlertCondition Condition,
    string Level,
    AlertSeverity Severity,
    string Target,
    string ItemId,
    string Product,
    IReadOnlyList<string> HandshakeCodes,
    double Value,
    string ValueText,
    string NextStep);

/// <summary>What one notification carries: every condition that newly reached a level in one check.</summary>
public sealed record AlertMessage(
    string Kind,
    DateTimeOffset Time,
    string ServerUuid,
    string OrganizationId,
    string Subject,
    AlertSeverity Severity,
    IReadOnlyList<AlertFinding> Conditions)
{
    public const string CheckKind = "alert";
    public const string TestKind = "test";
}

/// <summary>One row of Get-DlsAlert: a condition of a notification on one channel, with its delivery state.</summary>
public sealed record AlertRecord(
    DateTime Time,
    AlertCondition Condition,
    string Level,
    string Target,
    string Value,
    string Channel,
    bool Delivered,
    string Error,
    AlertSeverity Severity,
    long NotificationId,
    int Attempts,
    DateTime? NextAttempt,
    DateTime? DeliveredAt,
    string NextStep);

/// <summary>What a delivery attempt found, for the caller of a check or a test.</summary>
public sealed record AlertDeliveryResult(long NotificationId, AlertChannelKind Channel, bool Delivered, string Error, int Attempts, DateTimeOffset? NextAttempt);
