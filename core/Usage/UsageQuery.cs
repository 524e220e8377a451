using System.Text;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

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
        return _store.Read(connection =>
        {
            // One read transaction: every statement sees the same snapshot while the listener keeps writing.
            using var transaction = connection.BeginTransaction(deferred: true);
            return Run(connection, transaction, start, end, interval, by, handshakeCode, itemId, cancellationToken);
        });
    }

    public static IReadOnlyList<UsageRow> Run(
        SqliteConnection connection, SqliteTransaction? transaction, DateTimeOffset from, DateTimeOffset to,
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
        var rows = new Dictionary<(long, string, string, string), Accumulator>();
        foreach (var (grain, runStart, runEnd) in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = source.RowsSql;
            command.Parameters.AddWithValue("$grain", (int)grain);
            command.Parameters.AddWithValue("$lo", runStart);
            command.Parameters.AddWithValue("$hi", runEnd);
            source.Bind(command);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var key = (OutputOf(reader.GetInt64(0)), reader.GetString(1), reader.GetString(2), reader.GetString(3));
                if (!rows.TryGetValue(key, out var row))
                {
                    rows[key] = row = new Accumulator();
                }

                row.Count += reader.GetInt64(4);
                row.Devices += reader.GetInt64(5);
                row.Peak = Math.Max(row.Peak, reader.GetInt64(6));
                row.PeakInstances = Math.Max(row.PeakInstances, reader.GetInt64(7));
                row.Authorizations += reader.GetInt64(8);
                row.Failed += reader.GetInt64(9);
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
                foreach (var (key, devices) in source.DistinctDevices(connection, transaction, UsagePeriods.Decompose(clipStart, clipEnd, coarsest)))
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

        public string RowsSql => _by switch
        {
            UsageGrouping.Device => $"""
                SELECT d.period, c.client_uuid, '', '', sum(d.count), 0, 0, 0, sum(d.authorizations), sum(d.failed_authorizations)
                FROM usage_device d JOIN usage_client c ON c.id = d.client_id
                WHERE d.grain = $grain AND d.period >= $lo AND d.period < $hi{Filters("d.")}
                GROUP BY d.period, d.client_id;
                """,
            UsageGrouping.Feature => $"""
                SELECT period, feature, '', '', sum(count), 0, 0, 0, 0, 0
                FROM usage_feature
                WHERE grain = $grain AND period >= $lo AND period < $hi{Filters(string.Empty)}
                GROUP BY period, feature;
                """,
            _ => $"""
                SELECT period, {KeyColumns}, '', count, devices, peak_devices, peak_instances, authorizations, failed_authorizations
                FROM usage_rollup
                WHERE level = {_level} AND grain = $grain AND period >= $lo AND period < $hi{Filters(string.Empty)};
                """,
        };

        // The two key columns of a Code or Item row: the grouped column, and the other one when it is filtered on.
        private string KeyColumns => _by == UsageGrouping.Code ? "handshake_code, item_id" : "item_id, handshake_code";

        public static Source For(UsageGrouping by, string? code, string? item) => new(by, code, item);

        public void Bind(SqliteCommand command)
        {
            if (_code is not null)
            {
                command.Parameters.AddWithValue("$code", _code);
            }

            if (_item is not null)
            {
                command.Parameters.AddWithValue("$item", _item);
            }
        }

        /// <summary>
        /// The distinct devices of each key over the union of <paramref name="runs"/>: day and month runs OR their
        /// stored device sets (a few small blobs a day), slice and hour runs (the ragged ends of a range that does
        /// not start or end at midnight) add the devices seen in them one by one.
        /// </summary>
        public IEnumerable<((string, string), long)> DistinctDevices(
            SqliteConnection connection, SqliteTransaction? transaction, List<(UsageGrain Grain, long Start, long End)> runs)
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
                var bitmaps = DeviceBitmapWriter.Keeps((int)grain);
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = bitmaps
                    ? $"SELECT handshake_code, item_id, chunk, bits FROM usage_device_bits WHERE level = {_level} AND grain = $g AND period >= $lo AND period < $hi{Filters(string.Empty)};"
                    : $"SELECT handshake_code, item_id, client_id FROM {(_level == 0 ? "usage_device" : "usage_seen")} WHERE {(_level == 0 ? "reports > 0" : $"level = {_level}")} AND grain = $g AND period >= $lo AND period < $hi{Filters(string.Empty)};";
                command.Parameters.AddWithValue("$g", (int)grain);
                command.Parameters.AddWithValue("$lo", start);
                command.Parameters.AddWithValue("$hi", end);
                Bind(command);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    if (bitmaps)
                    {
                        DeviceBitmap.Or(Chunk(reader.GetString(0), reader.GetString(1), reader.GetInt64(2)), (byte[])reader.GetValue(3));
                    }
                    else
                    {
                        var client = reader.GetInt64(2);
                        DeviceBitmap.Set(Chunk(reader.GetString(0), reader.GetString(1), DeviceBitmap.ChunkOf(client)), client);
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

        private string Filters(string alias) =>
            (_code is null ? string.Empty : $" AND {alias}handshake_code = $code") + (_item is null ? string.Empty : $" AND {alias}item_id = $item");
    }
}
