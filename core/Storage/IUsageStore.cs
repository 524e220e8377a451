using Dls.Core.Usage;

namespace Dls.Core.Storage;

/// <summary>
/// The usage aggregate: raw statistics facts, their roll-ups and per-device rows, and the usage settings (retention).
/// Every method runs in the caller's <see cref="UnitOfWork"/>; the purge methods delete at most
/// <c>limit</c> rows, so a caller that loops over them keeps each write transaction short.
/// </summary>
/// <summary>What one batch adds to a roll-up row; a slice row's peaks are its own devices and instances.</summary>
internal readonly record struct UsageRollupRow(
    int Level, int Grain, long Period, string Code, string Item, long Count, long Reports, long Devices, long Instances,
    long PeakDevices, long PeakInstances, long Authorizations, long Failed);

/// <summary>Which chunk of which device set.</summary>
internal readonly record struct DeviceBitsKey(int Level, int Grain, long Period, string Code, string Item, long Chunk);

internal interface IUsageStore
{
    /// <summary>The stored raw-record retention in days, or null when never set.</summary>
    int? RetentionDays(UnitOfWork work);

    void SetRetentionDays(UnitOfWork work, int days);

    /// <summary>Keeps an authorization request raw (auth_event).</summary>
    void AddAuthorizationEvent(UnitOfWork work, AuthorizationFact fact);

    /// <summary>Keeps a report record raw (usage_record).</summary>
    void AddUsageRecord(UnitOfWork work, UsageFact fact);

    /// <summary>The short id of a client (made on first use).</summary>
    long ClientId(UnitOfWork work, string clientUuid);

    /// <summary>Adds to a device's row of a period and returns the row's reports after the addition.</summary>
    long AddToDevice(UnitOfWork work, int grain, long period, string code, string item, long client, long count, long reports, long authorizations, long failed);

    /// <summary>Records that the device was seen in the period at the level; false when it already was.</summary>
    bool MarkSeen(UnitOfWork work, int level, int grain, long period, string code, string item, long client);

    /// <summary>Records that the instance was seen in the slice at the level; false when it already was.</summary>
    bool MarkInstanceSeen(UnitOfWork work, int level, long period, string code, string item, long client, string instance);

    /// <summary>Adds to a roll-up row and returns its devices and instances after the addition.</summary>
    (long Devices, long Instances) AddToRollup(UnitOfWork work, UsageRollupRow row);

    /// <summary>Adds to a feature's count in a period.</summary>
    void AddToFeature(UnitOfWork work, int grain, long period, string code, string item, string feature, long count);

    /// <summary>One chunk of a period's device set, or null when none is stored.</summary>
    byte[]? DeviceBits(UnitOfWork work, DeviceBitsKey key);

    /// <summary>Stores one chunk of a period's device set.</summary>
    void SetDeviceBits(UnitOfWork work, DeviceBitsKey key, byte[] bits);

    /// <summary>The feature names an item's statistics keep.</summary>
    IReadOnlyList<string> FeatureNames(UnitOfWork work, string itemId);

    /// <summary>Registers a feature name of an item.</summary>
    void AddFeatureName(UnitOfWork work, string itemId, string feature);

    /// <summary>Authorizations and refused ones per code in [<paramref name="since"/>, <paramref name="now"/>] (codes with none are absent).</summary>
    IReadOnlyList<(string Code, long Total, long Failed)> AuthorizationsByCode(UnitOfWork work, DateTimeOffset since, DateTimeOffset now);

    /// <summary>Deletes raw usage records of slices before <paramref name="cutoff"/>.</summary>
    long PurgeUsageRecords(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes raw authorization events before <paramref name="cutoff"/>.</summary>
    long PurgeAuthorizationEvents(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes per-device rows of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeDevicePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the "first seen" rows at code and item level of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeSeenPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the instance "first seen" rows of periods before <paramref name="cutoff"/>.</summary>
    long PurgeInstancesSeen(UnitOfWork work, DateTimeOffset cutoff, int limit);
}
