using Dls.Core.Usage;

namespace Dls.Core.Storage;

/// <summary>
/// The usage aggregate: raw statistics facts, their roll-ups and per-device rows, and the usage settings (retention).
/// Every method runs in the caller's <see cref="UnitOfWork"/>; the purge methods delete at most
/// <c>limit</c> rows, so a caller that loops over them keeps each write transaction short.
/// </summary>
internal interface IUsageStore
{
    /// <summary>The stored raw-record retention in days, or null when never set.</summary>
    int? RetentionDays(UnitOfWork work);

    void SetRetentionDays(UnitOfWork work, int days);

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
