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

/// <summary>A usage query's filter on a code and an item; null matches every one.</summary>
internal readonly record struct UsageFilter(string? Code, string? Item);

/// <summary>
/// One stored row of a usage query: its period, up to three key columns (the grouped one first; unused ones empty)
/// and the counts (zero where the grouping keeps none).
/// </summary>
internal readonly record struct StoredUsageRow(
    long Period, string Key1, string Key2, string Key3, long Count, long Devices, long PeakDevices, long PeakInstances, long Authorizations, long Failed);

/// <summary>The raw tables the roll-ups are made from.</summary>
public enum RollupSource
{
    /// <summary>Report batches (usage_batch).</summary>
    UsageBatch,

    /// <summary>Authorization requests (auth_event).</summary>
    AuthEvent,
}

internal interface IUsageStore
{
    /// <summary>The stored raw-record retention in days, or null when never set.</summary>
    int? RetentionDays(UnitOfWork work);

    void SetRetentionDays(UnitOfWork work, int days);

    /// <summary>Keeps an authorization request raw (auth_event); returns its row id.</summary>
    long AddAuthorizationEvent(UnitOfWork work, AuthorizationFact fact);

    /// <summary>The raw authorizations with an id above <paramref name="afterId"/>, in id order, at most <paramref name="limit"/>.</summary>
    IReadOnlyList<(long Id, AuthorizationFact Fact)> RawAuthorizations(UnitOfWork work, long afterId, int limit);

    /// <summary>The id of the last row of <paramref name="source"/> the roll-ups are made from (see <see cref="RollupSource"/>).</summary>
    long RolledUpThrough(UnitOfWork work, RollupSource source);

    void SetRolledUpThrough(UnitOfWork work, RollupSource source, long id);

    /// <summary>The largest row id in <paramref name="source"/> (0 when empty).</summary>
    long LastRawId(UnitOfWork work, RollupSource source);

    /// <summary>Whether the client's batch (by <see cref="RawUsageBatch.KeyOf"/>) was already acknowledged.</summary>
    bool BatchSeen(UnitOfWork work, string clientUuid, byte[] batchKey);

    /// <summary>
    /// Keeps an acknowledged batch's records raw (<see cref="RawUsageBatch.Encode"/>) and remembers its key; returns its row
    /// id, or null (and keeps nothing) when the client's batch of that key is already kept.
    /// </summary>
    long? AddBatch(UnitOfWork work, long clientId, byte[] batchKey, DateTimeOffset receivedAt, string code, byte[] records);

    /// <summary>The raw batches with an id above <paramref name="afterId"/>, in id (arrival) order, at most <paramref name="limit"/>.</summary>
    IReadOnlyList<RawUsageBatch> RawBatches(UnitOfWork work, long afterId, int limit);

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

    /// <summary>
    /// The stored rows of a usage query in the periods of one run (<paramref name="grain"/> periods in
    /// [<paramref name="lo"/>, <paramref name="hi"/>)): Code and Item groupings from the roll-ups at
    /// <paramref name="level"/>, Device from the per-device rows, Feature from the feature counts.
    /// </summary>
    /// <remarks>Read the rows before asking the store for anything else in the same unit.</remarks>
    IEnumerable<StoredUsageRow> UsageRows(UnitOfWork work, UsageGrouping by, int level, UsageFilter filter, UsageGrain grain, long lo, long hi);

    /// <summary>The stored device-set chunks at <paramref name="level"/> of the <paramref name="grain"/> periods in [<paramref name="lo"/>, <paramref name="hi"/>).</summary>
    /// <remarks>Read the chunks before asking the store for anything else in the same unit.</remarks>
    IEnumerable<(string Code, string Item, long Chunk, byte[] Bits)> DeviceSets(UnitOfWork work, int level, UsageGrain grain, UsageFilter filter, long lo, long hi);

    /// <summary>
    /// The devices seen at <paramref name="level"/> in the <paramref name="grain"/> periods in [<paramref name="lo"/>, <paramref name="hi"/>), by short
    /// client id, once per period (level 0: the per-device rows with reports).
    /// </summary>
    /// <remarks>Read the devices before asking the store for anything else in the same unit.</remarks>
    IEnumerable<(string Code, string Item, long Client)> DevicesSeen(UnitOfWork work, int level, UsageGrain grain, UsageFilter filter, long lo, long hi);

    /// <summary>The first day with any usage rolled up, or null when none is.</summary>
    DateTimeOffset? FirstUsageDay(UnitOfWork work);

    /// <summary>Whether any usage is rolled up for the code (a removed code's usage stays).</summary>
    bool HasCodeUsage(UnitOfWork work, string code);

    /// <summary>The short id of a client, or null when it has none yet (nothing is made).</summary>
    long? FindClientId(UnitOfWork work, string clientUuid);

    /// <summary>Whether the device's row of the period (through the code, for the item) records a report or a granted authorization.</summary>
    bool HasContact(UnitOfWork work, UsageGrain grain, long period, string code, string item, long client);

    /// <summary>
    /// The newest of the <paramref name="grain"/> periods from <paramref name="top"/> down to <paramref name="bottom"/>
    /// (every <paramref name="step"/> seconds) whose device row records a report or a granted authorization, or null.
    /// </summary>
    long? NewestContact(UnitOfWork work, UsageGrain grain, long top, long bottom, long step, string code, string item, long client);

    /// <summary>Authorizations and refused ones per code in [<paramref name="since"/>, <paramref name="now"/>] (codes with none are absent).</summary>
    IReadOnlyList<(string Code, long Total, long Failed)> AuthorizationsByCode(UnitOfWork work, DateTimeOffset since, DateTimeOffset now);

    /// <summary>Deletes raw usage records of slices before <paramref name="cutoff"/> (usage_record: written before raw usage was kept per batch).</summary>
    long PurgeUsageRecords(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes raw batches received before <paramref name="cutoff"/>, oldest first; returns how many, and how many records they held.</summary>
    (long Batches, long Records) PurgeBatches(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes raw authorization events before <paramref name="cutoff"/>.</summary>
    long PurgeAuthorizationEvents(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes per-device rows of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeDevicePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the "first seen" rows at code and item level of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeSeenPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the instance "first seen" rows of periods before <paramref name="cutoff"/>.</summary>
    long PurgeInstancesSeen(UnitOfWork work, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the roll-up rows (every level) of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeRollupPeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the feature counts of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeFeaturePeriods(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>Deletes the device sets (every level) of <paramref name="grain"/> periods before <paramref name="cutoff"/>.</summary>
    long PurgeDeviceSets(UnitOfWork work, UsageGrain grain, DateTimeOffset cutoff, int limit);

    /// <summary>
    /// Deletes short client ids no per-device row refers to any more, but never the highest one: ids are not reused,
    /// so a device set kept for ever never counts a new device under an old device's id.
    /// </summary>
    long PurgeUnusedClients(UnitOfWork work, int limit);

    /// <summary>Where retention has purged up to: the detail (slice, hour, per-device rows) of periods before it is gone; null when nothing was purged.</summary>
    DateTimeOffset? PurgedBefore(UnitOfWork work);

    /// <summary>Records that detail before <paramref name="cutoff"/> is purged (an earlier value is never moved back).</summary>
    void SetPurgedBefore(UnitOfWork work, DateTimeOffset cutoff);
}
