using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

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
    private WeakReference<SqliteConnection>? _connection;
    private long _version = -1;

    /// <summary>Forgets every count if the connection is another one or the store changed under it.</summary>
    public void Sync(SqliteConnection connection, SqliteTransaction? transaction)
    {
        var version = (long)StatementCache.Get(connection, transaction, "PRAGMA data_version;").ExecuteScalar()!;
        if (_connection is null || !_connection.TryGetTarget(out var known) || !ReferenceEquals(known, connection) || version != _version)
        {
            _items.Clear();
            _connection = new WeakReference<SqliteConnection>(connection);
            _version = version;
        }
    }

    public void Forget() => _items.Clear();

    /// <summary>How many seats of the item are active at <paramref name="now"/>.</summary>
    public long Active(SqliteConnection connection, SqliteTransaction? transaction, string itemId, DateTimeOffset now)
    {
        if (_items.TryGetValue(itemId, out var count) && now >= count.At && now < count.NextLapse)
        {
            return count.Active;
        }

        var (active, nextLapse) = Ledger.ActiveSeatsAndNextLapse(connection, transaction, itemId, now);
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
