using System.Globalization;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>What <see cref="UsageRetention.Purge"/> removed.</summary>
public sealed record UsagePurgeResult(DateTimeOffset Cutoff, long UsageRecords, long AuthorizationEvents, long DeviceRows);

/// <summary>
/// How long raw statistics facts are kept. Raw records (usage_batch, and usage_record from before it; auth_event) and the per-device slice and hour
/// rows are removed once older than the retention period (default 400 days, stored in the store); the roll-ups per
/// code and item, per feature, and the per-device day and month rows are kept for ever, so Get-DlsUsage keeps
/// answering for old periods at day and month level.
/// </summary>
public sealed class UsageRetention
{
    public const int DefaultDays = 400;

    // Deleting in chunks keeps each write transaction short: the listener's writer waits for none of them for long.
    private const int ChunkRows = 5000;

    private readonly DlsStore _store;

    public UsageRetention(DlsStore store)
    {
        _store = store;
    }

    public int GetRetentionDays() => _store.Query(ReadRetentionDays);

    /// <summary>The retention in days, read in the caller's unit of work.</summary>
    internal static int ReadRetentionDays(UnitOfWork work) => work.Stores.Usage.RetentionDays(work) ?? DefaultDays;

    /// <summary>Sets how many days raw records are kept (at least 1; the roll-ups are kept regardless).</summary>
    public void SetRetentionDays(int days, DateTimeOffset now)
    {
        if (days < 1 || days > 36500)
        {
            throw new DlsException(ErrorIds.UsageRetentionInvalid, DlsErrorKind.InvalidArgument,
                $"The raw-record retention must be between 1 and 36500 days; {days} was given.", days);
        }

        _store.Write(work =>
        {
            work.Stores.Usage.SetRetentionDays(work, days);
            Audit.AuditLog.Write(work, now, "Usage.SetRetention", "usage", $"raw_retention_days = {days}");
        });
    }

    /// <summary>
    /// Removes the raw facts (and per-device slice/hour rows), lapsed seats and ended grants older than the retention period before
    /// <paramref name="now"/>. Cuts at a UTC day boundary so that no day is left half purged. Safe to run at any time
    /// and repeatedly (the listener runs it daily).
    /// </summary>
    public UsagePurgeResult Purge(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var cutoff = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-GetRetentionDays());
        var usage = DeleteInChunks((work, limit) => work.Stores.Usage.PurgeUsageRecords(work, cutoff, limit), cancellationToken);

        // A raw batch also remembers its batch id: it stays at least as long as a client may send the batch again.
        var batchCutoff = Min(cutoff, now - Protocol.LicenseAuthority.MaxReportAge - TimeSpan.FromDays(1));
        long batchRecords = 0;
        DeleteInChunks((work, limit) =>
        {
            var (batches, records) = work.Stores.Usage.PurgeBatches(work, batchCutoff, limit);
            batchRecords += records;
            return batches;
        }, cancellationToken);
        usage += batchRecords;
        var auth = DeleteInChunks((work, limit) => work.Stores.Usage.PurgeAuthorizationEvents(work, cutoff, limit), cancellationToken);
        long devices = 0;
        foreach (var grain in new[] { UsageGrain.Slice, UsageGrain.Hour })
        {
            devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeDevicePeriods(work, grain, cutoff, limit), cancellationToken);
            devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeSeenPeriods(work, grain, cutoff, limit), cancellationToken);
        }

        devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeInstancesSeen(work, cutoff, limit), cancellationToken);

        // Devices that no longer hold anything: seats that lapsed and grants that ended before the cutoff. What an
        // unknown client can make the listener write is bounded by the rate limits; this bounds how long it stays.
        devices += DeleteInChunks((work, limit) => work.Stores.Devices.PurgeLapsedSeats(work, cutoff, limit), cancellationToken);
        devices += DeleteInChunks((work, limit) => work.Stores.Devices.PurgeEndedGrants(work, cutoff, limit), cancellationToken);
        return new UsagePurgeResult(cutoff, usage, auth, devices);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private long DeleteInChunks(Func<UnitOfWork, int, long> deleteChunk, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var deleted = _store.Write(work => deleteChunk(work, ChunkRows));
            total += deleted;
            if (deleted < ChunkRows)
            {
                return total;
            }
        }
    }
}
