namespace Dls.Core.Usage;

/// <summary>What a report batch's accepted records add to the roll-ups.</summary>
public static class ReportFacts
{
    /// <summary>
    /// The roll-up facts of a batch: records naming the same slice, item and instance (a client that reports every few
    /// seconds sends many) become one fact that stands for all of them (<see cref="UsageFact.Records"/>), so the
    /// roll-ups do the work once and end as if each had been rolled up alone. <paramref name="admit"/> folds each
    /// record's feature names as the item's statistics keep them (<see cref="FeatureNames"/>).
    /// </summary>
    public static List<UsageFact> Of(
        string clientUuid,
        string code,
        DateTimeOffset receivedAt,
        IReadOnlyList<RawUsageRecord> records,
        Func<string, IReadOnlyDictionary<string, long>?, IReadOnlyDictionary<string, long>?> admit)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(admit);
        var facts = new List<UsageFact>(1);
        var index = new Dictionary<(DateTimeOffset Slice, string Item, string Instance), int>();
        foreach (var record in records)
        {
            var features = admit(record.ItemId, record.Features);
            var key = (record.Slice, record.ItemId, record.InstanceId);
            if (!index.TryGetValue(key, out var at))
            {
                index[key] = facts.Count;
                facts.Add(new UsageFact(receivedAt, record.Slice, code, record.ItemId, clientUuid, record.InstanceId, record.Count, features));
                continue;
            }

            var fact = facts[at];
            facts[at] = fact with { Count = fact.Count + record.Count, Features = Merged(fact.Features, features), Records = fact.Records + 1 };
        }

        return facts;
    }

    private static IReadOnlyDictionary<string, long>? Merged(IReadOnlyDictionary<string, long>? a, IReadOnlyDictionary<string, long>? b)
    {
        if (b is null || b.Count == 0)
        {
            return a;
        }

        if (a is null || a.Count == 0)
        {
            return b;
        }

        var sum = new Dictionary<string, long>(a, StringComparer.Ordinal);
        foreach (var (name, count) in b)
        {
            sum[name] = sum.GetValueOrDefault(name) + count;
        }

        return sum;
    }
}
