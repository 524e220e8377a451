using System.Text;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// Answers usage questions from the roll-ups, never from the raw records: a range is split into whole months,
/// days, hours and slices (coarsest first), so a query reads about one stored row per period and key returned,
/// however many reports were recorded. Ranges are resolved to slices: a slice counts when its start lies in
/// [From, To).
/// </summary>
public sealed class UsageQuery
{
    private readonly DlsStore _store;
    private readonly TimeProvider _time;

    public UsageQuery(DlsStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
    }

    /// <summary>
    /// The default range (SPEC §7): the last 30 UTC days including today, [today − 29 d, tomorrow). A missing
    /// <paramref name="from"/> is 30 days before <paramref name="to"/>.
    /// </summary>
    public static (DateTimeOffset From, DateTimeOffset To) ResolveRange(DateTimeOffset? from, DateTimeOffset? to, DateTimeOffset now)
    {
        var end = to ?? new DateTimeOffset(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
        var start = from ?? end.AddDays(-30);
        if (start >= end)
        {
            throw new DlsException(
                ErrorIds.UsageRangeInvalid,
                DlsErrorKind.InvalidArgument,
                $"-From ({start.UtcDateTime:u}) must be before -To ({end.UtcDateTime:u}).",
                start);
        }

        return (start.ToUniversalTime(), end.ToUniversalTime());
    }

    public IReadOnlyList<UsageRow> Get(
        DateTimeOffset? from, DateTimeOffset? to, UsageInterval interval, UsageGrouping by, string? handshakeCode, string? itemId,
        CancellationToken cancellationToken = default)
    {
        var (start, end) = ResolveRange(from, to, _time.GetUtcNow());
        // One snapshot: every statement sees the same store while the listener keeps writing.
        return _store.QuerySnapshot(work => Run(work, start, end, interval, by, handshakeCode, itemId, cancellationToken));
    }

    public static IReadOnlyList<UsageRow> Run(
        UnitOfWork work, DateTimeOffset from, DateTimeOffset to,
        UsageInterval interval, UsageGrouping by, string? handshakeCode, string? itemId, CancellationToken cancellationToken = default)
    {
        var a = UsagePeriods.Ceiling(UsageGrain.Slice, UsagePeriods.ToSeconds(from));
        var b = UsagePeriods.Ceiling(UsageGrain.Slice, UsagePeriods.ToSeconds(to));
        if (a >= b)
        {
            return [];
        }

        var coarsest = interval == UsageInterval.Total ? UsageGrain.Month : (UsageGrain)(int)interval;
        var runs = UsagePeriods.Decompose(a, b, coarsest);
        long OutputOf(long period) => interval == UsageInterval.Total ? a : UsagePeriods.Floor(coarsest, period);

        // How many stored periods make up each row's period: one means its stored distinct-device count is exact as is.
        var blocks = new Dictionary<long, int>();
        foreach (var (grain, runStart, runEnd) in runs)
        {
            for (var p = runStart; p < runEnd; p = UsagePeriods.Next(grain, p))
            {
                var output = OutputOf(p);
                blocks[output] = blocks.GetValueOrDefault(output) + 1;
            }
        }

        var source = Source.For(by, handshakeCode, itemId);
        var horizon = work.Stores.Usage.PurgedBefore(work) is { } purged ? new RetentionHorizon(UsagePeriods.ToSeconds(purged)) : (RetentionHorizon?)null;
        if (horizon is { } h && runs.FirstOrDefault(run => by == UsageGrouping.Device ? h.RemovedDeviceRows(run.Grain, run.Start) : h.RemovedRollup(run.Grain, run.Start)) is { End: > 0 } gone)
        {
            throw by == UsageGrouping.Device
                ? Purged(h, by, interval, $"per-device {Name(gone.Grain)} rows", gone.Grain == UsageGrain.Month ? h.MonthBefore : h.Before)
                : Purged(h, by, interval, $"{Name(gone.Grain)} rows", h.Before);
        }

        var rows = new Dictionary<(long, string, string, string), Accumulator>();
        foreach (var (grain, runStart, runEnd) in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var stored in source.Rows(work, grain, runStart, runEnd))
            {
                var key = (OutputOf(stored.Period), stored.Key1, stored.Key2, stored.Key3);
                if (!rows.TryGetValue(key, out var row))
                {
                    rows[key] = row = new Accumulator();
                }

                row.Count += stored.Count;
                row.Devices += stored.Devices;
                row.Peak = Math.Max(row.Peak, stored.PeakDevices);
                row.PeakInstances = Math.Max(row.PeakInstances, stored.PeakInstances);
                row.Authorizations += stored.Authorizations;
                row.Failed += stored.Failed;
            }
        }

        if (source.HasDevices)
        {
            // A row made of several stored periods (a partial first or last period, or a Total) counts its devices
            // again from who was seen in those periods: a device seen on two days is still one device.
            foreach (var output in rows.Keys.Select(k => k.Item1).Distinct().Where(o => blocks[o] > 1).ToList())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var clipStart = Math.Max(output, a);
                var clipEnd = interval == UsageInterval.Total ? b : Math.Min(UsagePeriods.Next(coarsest, output), b);
                var parts = UsagePeriods.Decompose(clipStart, clipEnd, coarsest);
                if (horizon is { } kept && parts.FirstOrDefault(run => kept.RemovedDeviceSet(run.Grain, run.Start)) is { End: > 0 } missing)
                {
                    // Counts would still add up; the distinct devices would not, and a wrong number is worse than none.
                    throw Purged(kept, by, interval, $"{Name(missing.Grain)} device sets (the distinct devices of a range that starts or ends inside a day or month)",
                        missing.Grain == UsageGrain.Day ? kept.MonthBefore : kept.Before);
                }

                foreach (var (key, devices) in source.DistinctDevices(work, parts))
                {
                    if (rows.TryGetValue((output, key.Item1, key.Item2, string.Empty), out var row))
                    {
                        row.Devices = devices;
                    }
                }
            }
        }

        return rows
            .OrderBy(r => r.Key.Item1).ThenBy(r => r.Key.Item2, StringComparer.Ordinal).ThenBy(r => r.Key.Item3, StringComparer.Ordinal)
            .ThenBy(r => r.Key.Item4, StringComparer.Ordinal)
            .Select(r =>
            {
                var (output, k1, k2, k3) = r.Key;
                var periodStart = Math.Max(output, a);
                var periodEnd = interval == UsageInterval.Total ? b : Math.Min(UsagePeriods.Next(coarsest, output), b);
                return source.ToRow(UsagePeriods.ToUtc(periodStart), UsagePeriods.ToUtc(periodEnd), k1, k2, k3, r.Value);
            })
            .ToList();
    }

    private static string Name(UsageGrain grain) => grain.ToString().ToLowerInvariant();

    private static DlsException Purged(RetentionHorizon horizon, UsageGrouping by, UsageInterval interval, string what, long removedBefore)
    {
        var before = UsagePeriods.ToUtc(horizon.Before);
        var monthBefore = UsagePeriods.ToUtc(horizon.MonthBefore);
        var advice = by == UsageGrouping.Device
            ? $"Per-device usage is kept from {before:yyyy-MM-dd} (by month from {monthBefore:yyyy-MM-dd}): start the range there."
            : $"Older usage is kept per day and month: ask for -Interval Day or Month over whole days, a Total that starts and ends on the 1st of a month, or a range from {before:yyyy-MM-dd} on.";
        return new DlsException(
            ErrorIds.UsageDetailPurged,
            DlsErrorKind.InvalidArgument,
            $"-By {by} -Interval {interval} needs the {what} before {UsagePeriods.ToUtc(removedBefore):yyyy-MM-dd}, which usage retention has removed. {advice}",
            UsagePeriods.ToUtc(removedBefore));
    }

    internal sealed class Accumulator
    {
        public long Count;
        public long Devices;
        public long Peak;
        public long PeakInstances;
        public long Authorizations;
        public long Failed;
    }

    /// <summary>Where a grouping's rows come from and how its key maps to the output columns.</summary>
    private sealed class Source
    {
        private readonly UsageGrouping _by;
        private readonly string? _code;
        private readonly string? _item;
        private readonly int _level;

        private Source(UsageGrouping by, string? code, string? item)
        {
            _by = by;
            _code = code;
            _item = item;
            // Distinct devices do not add up over items or codes, so each grouping reads the level kept for it.
            _level = by switch
            {
                UsageGrouping.Code when item is null => 1,
                UsageGrouping.Item when code is null => 2,
                _ => 0,
            };
        }

        public bool HasDevices => _by is UsageGrouping.Code or UsageGrouping.Item;

        /// <summary>The stored rows of one run of <paramref name="grain"/> periods in [<paramref name="lo"/>, <paramref name="hi"/>).</summary>
        public IEnumerable<StoredUsageRow> Rows(UnitOfWork work, UsageGrain grain, long lo, long hi) =>
            work.Stores.Usage.UsageRows(work, _by, _level, Filter, grain, lo, hi);

        public static Source For(UsageGrouping by, string? code, string? item) => new(by, code, item);

        /// <summary>
        /// The distinct devices of each key over the union of <paramref name="runs"/>: day and month runs OR their
        /// stored device sets (a few small blobs a day), slice and hour runs (the ragged ends of a range that does
        /// not start or end at midnight) add the devices seen in them one by one.
        /// </summary>
        public IEnumerable<((string, string), long)> DistinctDevices(
            UnitOfWork work, List<(UsageGrain Grain, long Start, long End)> runs)
        {
            var sets = new Dictionary<(string, string), Dictionary<long, byte[]>>();
            byte[] Chunk(string code, string item, long chunk)
            {
                if (!sets.TryGetValue((code, item), out var chunks))
                {
                    sets[(code, item)] = chunks = [];
                }

                if (!chunks.TryGetValue(chunk, out var bits))
                {
                    chunks[chunk] = bits = new byte[DeviceBitmap.ChunkBytes];
                }

                return bits;
            }

            foreach (var (grain, start, end) in runs)
            {
                if (DeviceBitmapWriter.Keeps((int)grain))
                {
                    foreach (var (code, item, chunk, bits) in work.Stores.Usage.DeviceSets(work, _level, grain, Filter, start, end))
                    {
                        DeviceBitmap.Or(Chunk(code, item, chunk), bits);
                    }
                }
                else
                {
                    foreach (var (code, item, client) in work.Stores.Usage.DevicesSeen(work, _level, grain, Filter, start, end))
                    {
                        DeviceBitmap.Set(Chunk(code, item, DeviceBitmap.ChunkOf(client)), client);
                    }
                }
            }

            return sets.Select(set =>
            {
                var ((code, item), chunks) = set;
                var key = _by == UsageGrouping.Code ? (code, item) : (item, code);
                return (key, chunks.Values.Sum(DeviceBitmap.Count));
            }).ToList();
        }

        public UsageRow ToRow(DateTime start, DateTime end, string k1, string k2, string k3, Accumulator value) => _by switch
        {
            UsageGrouping.Code => new UsageRow(start, end, k1, _item, null, null, value.Count, value.Devices, value.Peak, value.PeakInstances, value.Authorizations, value.Failed),
            UsageGrouping.Item => new UsageRow(start, end, _code, k1, null, null, value.Count, value.Devices, value.Peak, value.PeakInstances, value.Authorizations, value.Failed),
            UsageGrouping.Device => new UsageRow(start, end, _code, _item, k1, null, value.Count, null, null, null, value.Authorizations, value.Failed),
            _ => new UsageRow(start, end, _code, _item, null, k1, value.Count, null, null, null, null, null),
        };

        private UsageFilter Filter => new(_code, _item);
    }
}
