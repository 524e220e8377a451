using Dls.Core.Storage;

namespace Dls.Core.Accounting;

/// <summary>
/// The listener writer's running count of each item's active seats, so that a new device does not count all the
/// others again. A count taken at time t, with the earliest moment one of those seats lapses, stays exact until that
/// moment as long as every seat the writer takes is added (<see cref="Taken"/>): refreshing a seat only moves its end
/// later, and only other connections remove seats, which <c>PRAGMA data_version</c> reveals (<see cref="Sync"/>).
/// Whatever the writer rolled back must be forgotten (<see cref="Forget"/>); a new connection starts afresh.
/// One thread at a time, as a connection is.
/// </summary>
public sealed class ActiveSeatCounter
{
    private readonly Dictionary<string, Count> _items = new(StringComparer.Ordinal);
    private WeakReference<UnitOfWork>? _unit;
    private long _version = -1;

    /// <summary>Forgets every count if the unit of work is another one or the store changed under it.</summary>
    public void Sync(UnitOfWork work)
    {
        var version = work.ChangeStamp();
        if (_unit is null || !_unit.TryGetTarget(out var known) || !ReferenceEquals(known, work) || version != _version)
        {
            _items.Clear();
            _unit = new WeakReference<UnitOfWork>(work);
            _version = version;
        }
    }

    public void Forget() => _items.Clear();

    /// <summary>How many seats of the item are active at <paramref name="now"/>.</summary>
    public long Active(UnitOfWork work, string itemId, DateTimeOffset now)
    {
        if (_items.TryGetValue(itemId, out var count) && now >= count.At && now < count.NextLapse)
        {
            return count.Active;
        }

        var (active, nextLapse) = work.Stores.Devices.ActiveSeatsAndNextLapse(work, itemId, now);
        _items[itemId] = new Count(now, active, nextLapse ?? DateTimeOffset.MaxValue);
        return active;
    }

    /// <summary>A seat that was not active is active now, until <paramref name="until"/>.</summary>
    public void Taken(string itemId, DateTimeOffset until)
    {
        if (_items.TryGetValue(itemId, out var count))
        {
            _items[itemId] = count with { Active = count.Active + 1, NextLapse = until < count.NextLapse ? until : count.NextLapse };
        }
    }

    private readonly record struct Count(DateTimeOffset At, long Active, DateTimeOffset NextLapse);
}
