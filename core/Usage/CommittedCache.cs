namespace Dls.Core.Usage;

/// <summary>
/// What the listener's writer knows to be stored, so that it need not ask the store again: an entry learnt in a
/// transaction counts only once that transaction has committed (<see cref="Committed"/>); a rollback forgets what it
/// learnt (<see cref="Failed"/>). The cache starts over every hour and when it would pass <see cref="MaxEntries"/>:
/// what it forgets is only asked of the store again. Used by the writer's thread only.
/// </summary>
internal sealed class CommittedCache<TKey, TValue>
    where TKey : notnull
{
    public const int MaxEntries = 100_000;

    private readonly Dictionary<TKey, TValue> _stored;
    private readonly List<KeyValuePair<TKey, TValue>> _learnt = [];
    private long _hour = long.MinValue;

    public CommittedCache(IEqualityComparer<TKey>? comparer = null) => _stored = new Dictionary<TKey, TValue>(comparer);

    public bool TryFind(TKey key, out TValue value) => _stored.TryGetValue(key, out value!);

    /// <summary>The entry is stored once the current transaction commits.</summary>
    public void Learnt(TKey key, TValue value) => _learnt.Add(new(key, value));

    public void Committed()
    {
        var hour = Environment.TickCount64 / 3_600_000;
        if (hour != _hour || _stored.Count + _learnt.Count > MaxEntries)
        {
            _stored.Clear();
            _hour = hour;
        }

        foreach (var (key, value) in _learnt)
        {
            _stored[key] = value;
        }

        _learnt.Clear();
    }

    public void Failed() => _learnt.Clear();
}
