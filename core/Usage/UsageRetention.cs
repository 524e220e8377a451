using System.Globalization;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>What <see cref="UsageRetention.Purge"/> removed.</summary>
/// <param name="Cutoff">Detail of periods before it is gone (see <see cref="UsageRetention"/>).</param>
/// <param name="DeviceRows">Per-device rows, short client ids, lapsed seats, ended grants and concurrent slice counts.</param>
/// <param name="RollupRows">Slice and hour roll-ups and feature counts, and day device sets.</param>
public sealed record UsagePurgeResult(DateTimeOffset Cutoff, long UsageRecords, long AuthorizationEvents, long DeviceRows, long RollupRows);

/// <summary>
/// Bounds the store for a steady fleet. What grows per device or per request is removed once older than the
/// retention period (default 400 days, stored in the store): raw records (usage_batch, its batch ids kept at least 31 days; usage_record from before it; auth_event), every
/// per-device row (usage_device, usage_seen, usage_instance_seen; a month's rows once the whole month is older), the
/// slice and hour roll-ups and feature counts, the day device sets (once their month is older), the short ids of
/// devices with no row left, lapsed seats and ended grants. What grows only with the calendar, per code and item, is
/// kept for ever: the day and month roll-ups and feature counts and the month device sets, so Get-DlsUsage keeps
/// answering old periods by day and month, by code, item and feature (and refuses, with UsageDetailPurged, what
/// needs the purged detail).
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

    /// <summary>Sets how many days raw records and detail rows are kept (at least 1; day and month roll-ups are kept regardless).</summary>
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
    /// Removes what is older than the retention period before <paramref name="now"/> (see the class). Cuts at a UTC day
    /// boundary so that no day is left half purged, and records the cut first, so that no query reads a half-purged
    /// period as if it were whole. Safe to run at any time and repeatedly (the listener runs it daily).
    /// </summary>
    public UsagePurgeResult Purge(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var cutoff = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-GetRetentionDays());
        // A month's rows go once the whole month is older than the cutoff; the day device sets with them, so that a
        // range that starts at a kept month's start, or inside it, still counts its distinct devices exactly.
        var monthCutoff = DateTimeOffset.FromUnixTimeSeconds(UsagePeriods.Floor(UsageGrain.Month, UsagePeriods.ToSeconds(cutoff)));
        _store.Write(work => work.Stores.Usage.SetPurgedBefore(work, cutoff));

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
        foreach (var grain in UsagePeriods.All)
        {
            var before = grain == UsageGrain.Month ? monthCutoff : cutoff;
            devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeDevicePeriods(work, grain, before, limit), cancellationToken);
            devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeSeenPeriods(work, grain, before, limit), cancellationToken);
        }

        devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeInstancesSeen(work, cutoff, limit), cancellationToken);
        devices += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeUnusedClients(work, limit), cancellationToken);

        // Slice and hour roll-ups grow by 504 rows a day per code and item: they follow the per-device detail. Day and
        // month roll-ups (two rows a day) are what old periods are answered from.
        long rollups = 0;
        foreach (var grain in new[] { UsageGrain.Slice, UsageGrain.Hour })
        {
            rollups += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeRollupPeriods(work, grain, cutoff, limit), cancellationToken);
            rollups += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeFeaturePeriods(work, grain, cutoff, limit), cancellationToken);
        }

        // A day's device set is 512 bytes per 4096 device ids per code and item: it grows with the fleet, a month's
        // set (kept) only once a month.
        rollups += DeleteInChunks((work, limit) => work.Stores.Usage.PurgeDeviceSets(work, UsageGrain.Day, monthCutoff, limit), cancellationToken);

        // Devices that no longer hold anything: seats that lapsed and grants that ended before the cutoff. What an
        // unknown client can make the listener write is bounded by the rate limits; this bounds how long it stays.
        devices += DeleteInChunks((work, limit) => work.Stores.Devices.PurgeLapsedSeats(work, cutoff, limit), cancellationToken);
        devices += DeleteInChunks((work, limit) => work.Stores.Devices.PurgeEndedGrants(work, cutoff, limit), cancellationToken);

        // A concurrent item's active count per slice: read only for slices a report may still carry, as its slots are.
        var slices = now - Protocol.LicenseAuthority.MaxReportAge - TimeSpan.FromDays(1);
        devices += DeleteInChunks((work, limit) => work.Stores.Devices.PurgeConcurrentSlices(work, slices, limit), cancellationToken);
        return new UsagePurgeResult(cutoff, usage, auth, devices, rollups);
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
