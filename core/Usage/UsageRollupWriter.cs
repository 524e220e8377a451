using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// Keeps the roll-ups up to date as facts arrive, inside the caller's transaction. A batch's facts are first added
/// up in memory per row they touch (a report of many records from one client mostly touches the same hour, day
/// and month rows), then <see cref="Flush"/> writes each row once through the usage store (prepared statements of the unit of work): the
/// device's row per grain, "first time seen in this period" rows that stop at the first grain where the device was
/// already seen (seen in this hour means seen in this day and month), and one counter row per grain and level.
/// The tables end exactly as if the facts had been written one by one.
/// </summary>
internal sealed class UsageRollupWriter
{
    private const int CodeLevel = 1;
    private const int ItemLevel = 2;

    private readonly UnitOfWork _work;
    private readonly IUsageStore _usage;
    private readonly long[] _periods = new long[4];
    private readonly Dictionary<string, long> _clientIds = new(StringComparer.Ordinal);
    private readonly HashSet<SeenKey> _seenKeys = [];
    private readonly HashSet<InstanceKey> _instanceKeys = [];
    private readonly Dictionary<DeviceKey, Sums> _devices = [];
    private readonly Dictionary<RollupKey, Sums> _rollups = [];
    private readonly Dictionary<FeatureKey, long> _features = [];
    private readonly DeviceBitmapWriter _bitmaps;

    private readonly SeenRows? _known;

    /// <param name="known">The rows the caller knows to be stored (the listener's writer), or null to ask the store each time.</param>
    public UsageRollupWriter(UnitOfWork work, SeenRows? known = null)
    {
        _known = known;
        _work = work;
        _usage = work.Stores.Usage;
        _bitmaps = new DeviceBitmapWriter(work);
    }

    public void Add(AuthorizationFact fact)
    {
        var client = ClientId(fact.ClientUuid);
        var failed = fact.ErrorCode == 0 ? 0 : 1;
        FillPeriods(TimeSlice.StartOf(fact.Time));
        var sums = new Sums(0, 0, 1, failed);
        for (var grain = 0; grain < 4; grain++)
        {
            AddTo(_devices, new DeviceKey(grain, _periods[grain], fact.HandshakeCode, fact.ItemId, client), sums);
        }

        foreach (var (level, code, item) in Levels(fact.HandshakeCode, fact.ItemId))
        {
            for (var grain = 0; grain < 4; grain++)
            {
                AddTo(_rollups, new RollupKey(level, grain, _periods[grain], code, item), sums);
            }
        }
    }

    public void Add(UsageFact fact)
    {
        var client = ClientId(fact.ClientUuid);
        FillPeriods(TimeSlice.StartOf(fact.Slice));
        var sums = new Sums(fact.Count, fact.Records, 0, 0);

        foreach (var (level, code, item) in Levels(fact.HandshakeCode, fact.ItemId))
        {
            if (level == 0)
            {
                // Whether the device is new in a period is known once its row is written (Flush).
                for (var grain = 0; grain < 4; grain++)
                {
                    AddTo(_devices, new DeviceKey(grain, _periods[grain], code, item, client), sums);
                }
            }
            else
            {
                // Seen in a slice means seen in its hour, day and month: stop at the first grain that knew the device
                // (already written in this batch, or already in the table).
                for (var grain = 0; grain < 4; grain++)
                {
                    if (!Seen(new SeenKey(level, grain, _periods[grain], code, item, client)))
                    {
                        break;
                    }

                    AddTo(_rollups, new RollupKey(level, grain, _periods[grain], code, item), new Sums(0, 0, 0, 0, Devices: 1));
                }
            }

            if (NewInstance(new InstanceKey(level, _periods[0], code, item, client, fact.InstanceId ?? string.Empty)))
            {
                AddTo(_rollups, new RollupKey(level, 0, _periods[0], code, item), new Sums(0, 0, 0, 0, Instances: 1));
            }

            for (var grain = 0; grain < 4; grain++)
            {
                AddTo(_rollups, new RollupKey(level, grain, _periods[grain], code, item), sums with { Usage = true });
            }
        }

        if (fact.Features is not null)
        {
            foreach (var (feature, count) in fact.Features)
            {
                for (var grain = 0; grain < 4; grain++)
                {
                    var key = new FeatureKey(grain, _periods[grain], fact.HandshakeCode, fact.ItemId, feature);
                    _features[key] = _features.GetValueOrDefault(key) + count;
                }
            }
        }
    }

    /// <summary>Writes what the added facts changed, each row once, and starts over empty.</summary>
    public void Flush()
    {
        foreach (var (key, sums) in _devices)
        {
            var reports = _usage.AddToDevice(_work, key.Grain, key.Period, key.Code, key.Item, key.Client, sums.Count, sums.Reports, sums.Authorizations, sums.Failed);
            if (sums.Reports > 0 && reports == sums.Reports)
            {
                // The device's first report in this period: one more distinct device of the code and item.
                AddTo(_rollups, new RollupKey(0, key.Grain, key.Period, key.Code, key.Item), new Sums(0, 0, 0, 0, Devices: 1));
                if (DeviceBitmapWriter.Keeps(key.Grain))
                {
                    _bitmaps.Add(0, key.Grain, key.Period, key.Code, key.Item, key.Client);
                }
            }
        }

        // Slice rows first: a coarser row keeps the largest number of devices (instances) any of its slices reached.
        var peaks = new Dictionary<RollupKey, (long Devices, long Instances)>();
        foreach (var (key, sums) in _rollups.Where(r => r.Key.Grain == 0))
        {
            var (devices, instances) = Rollup(key, sums, 0, 0);
            if (!sums.Usage)
            {
                continue;
            }

            var seconds = key.Period;
            for (var grain = 1; grain < 4; grain++)
            {
                var coarser = key with { Grain = grain, Period = UsagePeriods.Floor(UsagePeriods.All[grain], seconds) };
                var peak = peaks.GetValueOrDefault(coarser);
                peaks[coarser] = (Math.Max(peak.Devices, devices), Math.Max(peak.Instances, instances));
            }
        }

        foreach (var (key, sums) in _rollups.Where(r => r.Key.Grain > 0))
        {
            var (devices, instances) = peaks.GetValueOrDefault(key);
            Rollup(key, sums, devices, instances);
        }

        foreach (var (key, count) in _features)
        {
            _usage.AddToFeature(_work, key.Grain, key.Period, key.Code, key.Item, key.Feature, count);
        }

        _bitmaps.Flush();

        _seenKeys.Clear();
        _instanceKeys.Clear();
        _devices.Clear();
        _rollups.Clear();
        _features.Clear();
    }

    private static IEnumerable<(int Level, string Code, string Item)> Levels(string code, string item)
    {
        yield return (0, code, item);
        yield return (CodeLevel, code, string.Empty);
        yield return (ItemLevel, string.Empty, item);
    }

    private static void AddTo<TKey>(Dictionary<TKey, Sums> rows, TKey key, Sums sums)
        where TKey : notnull =>
        rows[key] = rows.TryGetValue(key, out var before) ? before + sums : sums;

    private void FillPeriods(DateTimeOffset slice)
    {
        var seconds = UsagePeriods.ToSeconds(slice);
        foreach (var grain in UsagePeriods.All)
        {
            _periods[(int)grain] = UsagePeriods.Floor(grain, seconds);
        }
    }

    private long ClientId(string clientUuid)
    {
        if (!_clientIds.TryGetValue(clientUuid, out var id))
        {
            id = _usage.ClientId(_work, clientUuid);
            _clientIds[clientUuid] = id;
        }

        return id;
    }

    /// <summary>Whether the device is seen for the first time in the key's period (its row is written now).</summary>
    private bool Seen(SeenKey key)
    {
        if (!_seenKeys.Add(key) || _known?.Known(key) == true)
        {
            return false;
        }

        var stored = !_usage.MarkSeen(_work, key.Level, key.Grain, key.Period, key.Code, key.Item, key.Client);
        _known?.Learnt(key);
        if (stored)
        {
            return false;
        }

        if (DeviceBitmapWriter.Keeps(key.Grain))
        {
            _bitmaps.Add(key.Level, key.Grain, key.Period, key.Code, key.Item, key.Client);
        }

        return true;
    }

    private bool NewInstance(InstanceKey key)
    {
        if (!_instanceKeys.Add(key) || _known?.Known(key) == true)
        {
            return false;
        }

        _known?.Learnt(key);
        return _usage.MarkInstanceSeen(_work, key.Level, key.Period, key.Code, key.Item, key.Client, key.Instance);
    }

    private (long Devices, long Instances) Rollup(RollupKey key, Sums sums, long peakDevices, long peakInstances)
    {
        return _usage.AddToRollup(_work, new UsageRollupRow(key.Level, key.Grain, key.Period, key.Code, key.Item, sums.Count, sums.Reports, sums.Devices,
            sums.Instances, key.Grain == 0 ? sums.Devices : peakDevices, key.Grain == 0 ? sums.Instances : peakInstances, sums.Authorizations, sums.Failed));
    }

    private readonly record struct DeviceKey(int Grain, long Period, string Code, string Item, long Client);

    internal readonly record struct SeenKey(int Level, int Grain, long Period, string Code, string Item, long Client);

    internal readonly record struct InstanceKey(int Level, long Period, string Code, string Item, long Client, string Instance);

    private readonly record struct RollupKey(int Level, int Grain, long Period, string Code, string Item);

    private readonly record struct FeatureKey(int Grain, long Period, string Code, string Item, string Feature);

    /// <summary>What a row gains from the batch; <see cref="Usage"/>: a report touched it (its peaks may move).</summary>
    private readonly record struct Sums(long Count, long Reports, long Authorizations, long Failed, long Devices = 0, long Instances = 0, bool Usage = false)
    {
        public static Sums operator +(Sums a, Sums b) => new(a.Count + b.Count, a.Reports + b.Reports, a.Authorizations + b.Authorizations,
            a.Failed + b.Failed, a.Devices + b.Devices, a.Instances + b.Instances, a.Usage || b.Usage);
    }
}
