using System;
using System.Collections.Generic;
using System.Linq;

namespace Dls.Client.Internal;

/// <summary>One record of a report batch (SPEC §4).</summary>
internal sealed class UsageRecord
{
    public UsageRecord(DateTimeOffset slice, string itemId, string product, long count, string? instanceId, IReadOnlyDictionary<string, long>? features)
    {
        Slice = slice;
        ItemId = itemId;
        Product = product;
        Count = count;
        InstanceId = instanceId;
        Features = features;
    }

    public DateTimeOffset Slice { get; }

    public string ItemId { get; }

    public string Product { get; }

    public long Count { get; }

    public string? InstanceId { get; }

    public IReadOnlyDictionary<string, long>? Features { get; }
}

/// <summary>
/// Usage recorded since the last batch, summed per (slice, item, product, instance) with its features. Thread-safe:
/// an application records from any thread while the client seals batches.
/// </summary>
internal sealed class UsageLedger
{
    /// <summary>The wire's bounds on one record (docs/protocol.md): counts up to 10⁹, at most 64 feature names.</summary>
    public const long MaxCount = 1_000_000_000;
    public const int MaxFeatures = 64;

    private readonly object _gate = new();
    private Dictionary<Key, Sum> _sums = new();
    private long _version;

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _sums.Count == 0;
            }
        }
    }

    public void Add(DateTimeOffset slice, string itemId, string product, string? instanceId, long count, IReadOnlyDictionary<string, long>? features)
    {
        lock (_gate)
        {
            var key = new Key(slice, itemId, product, instanceId ?? string.Empty);
            if (!_sums.TryGetValue(key, out var sum))
            {
                _sums[key] = sum = new Sum();
            }

            _version++;
            sum.Count = checked(sum.Count + count);
            if (features is not null)
            {
                foreach (var pair in features)
                {
                    sum.Features.TryGetValue(pair.Key, out var before);
                    sum.Features[pair.Key] = checked(before + pair.Value);
                }
            }
        }
    }

    /// <summary>Grows with every change: a snapshot is worth writing only when it moved.</summary>
    public long Version
    {
        get
        {
            lock (_gate)
            {
                return _version;
            }
        }
    }

    /// <summary>Takes everything summed so far, as records within the wire's bounds (a large sum spans several records).</summary>
    public List<UsageRecord> Drain()
    {
        Dictionary<Key, Sum> taken;
        lock (_gate)
        {
            taken = _sums;
            _sums = new Dictionary<Key, Sum>();
            _version++;
        }

        return Records(taken);
    }

    /// <summary>Everything summed so far as records, left in place (what the journal keeps on disk), with the version it shows.</summary>
    public (List<UsageRecord> Records, long Version) Snapshot()
    {
        Dictionary<Key, Sum> copy;
        long version;
        lock (_gate)
        {
            copy = _sums.ToDictionary(pair => pair.Key, pair => pair.Value.Copy());
            version = _version;
        }

        return (Records(copy), version);
    }

    private static List<UsageRecord> Records(Dictionary<Key, Sum> taken)
    {
        var records = new List<UsageRecord>();
        foreach (var pair in taken.OrderBy(p => p.Key.Slice).ThenBy(p => p.Key.ItemId, StringComparer.Ordinal).ThenBy(p => p.Key.InstanceId, StringComparer.Ordinal))
        {
            Split(pair.Key, pair.Value, records);
        }

        return records;
    }

    /// <summary>Puts records back (a batch could not be written to disk): nothing recorded is dropped.</summary>
    public void Restore(IEnumerable<UsageRecord> records)
    {
        foreach (var record in records)
        {
            Add(record.Slice, record.ItemId, record.Product, record.InstanceId, record.Count, record.Features);
        }
    }

    private static void Split(Key key, Sum sum, List<UsageRecord> records)
    {
        var count = sum.Count;
        var features = new Queue<KeyValuePair<string, long>>(sum.Features.OrderBy(f => f.Key, StringComparer.Ordinal));
        do
        {
            var part = Math.Min(count, MaxCount);
            count -= part;
            Dictionary<string, long>? partFeatures = null;
            while (features.Count > 0 && (partFeatures?.Count ?? 0) < MaxFeatures)
            {
                var feature = features.Dequeue();
                var take = Math.Min(feature.Value, MaxCount);
                (partFeatures ??= new Dictionary<string, long>(StringComparer.Ordinal))[feature.Key] = take;
                if (feature.Value > take)
                {
                    // The rest of a huge feature count goes into a later record of the same key.
                    var rest = new Queue<KeyValuePair<string, long>>();
                    rest.Enqueue(new KeyValuePair<string, long>(feature.Key, feature.Value - take));
                    while (features.Count > 0)
                    {
                        rest.Enqueue(features.Dequeue());
                    }

                    features = rest;
                    break;
                }
            }

            records.Add(new UsageRecord(key.Slice, key.ItemId, key.Product, part, key.InstanceId.Length == 0 ? null : key.InstanceId, partFeatures));
        }
        while (count > 0 || features.Count > 0);
    }

    private readonly struct Key : IEquatable<Key>
    {
        public Key(DateTimeOffset slice, string itemId, string product, string instanceId)
        {
            Slice = slice;
            ItemId = itemId;
            Product = product;
            InstanceId = instanceId;
        }

        public DateTimeOffset Slice { get; }

        public string ItemId { get; }

        public string Product { get; }

        public string InstanceId { get; }

        public bool Equals(Key other) => Slice == other.Slice && ItemId == other.ItemId && Product == other.Product && InstanceId == other.InstanceId;

        public override bool Equals(object? obj) => obj is Key other && Equals(other);

        public override int GetHashCode()
        {
            unchecked
            {
                return (((((Slice.GetHashCode() * 397) ^ ItemId.GetHashCode()) * 397) ^ Product.GetHashCode()) * 397) ^ InstanceId.GetHashCode();
            }
        }
    }

    private sealed class Sum
    {
        public long Count { get; set; }

        public Dictionary<string, long> Features { get; } = new(StringComparer.Ordinal);

        public Sum Copy()
        {
            var copy = new Sum { Count = Count };
            foreach (var feature in Features)
            {
                copy.Features[feature.Key] = feature.Value;
            }

            return copy;
        }
    }
}
