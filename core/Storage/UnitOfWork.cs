namespace Dls.Core.Storage;

/// <summary>
/// One connection to the store and the transaction on it, opened by <see cref="DlsStore.BeginWrite"/> or
/// <see cref="DlsStore.BeginRead"/> and passed explicitly to the aggregate stores (<see cref="AggregateStores"/>).
/// It owns the prepared statements of its connection and turns the engine's failures into DlsExceptions
/// (<see cref="StoreFailures"/>). Services hold rules and never see the engine: the units of both engines derive from
/// <c>Storage/Sql/SqlUnitOfWork</c> (SQLite in <c>Storage/Sqlite</c>, PostgreSQL in <c>Storage/Postgres</c>).
/// </summary>
/// <remarks>
/// A write unit begins its transaction (BEGIN IMMEDIATE on SQLite, the store_lock row on PostgreSQL) when opened or, after <see cref="Commit"/>, on
/// its next use: the listener's writer keeps one unit, and so one connection and its prepared statements, over
/// many batches. A read unit runs each statement on its own snapshot, without a transaction.
/// </remarks>
public abstract class UnitOfWork : IDisposable
{
    private protected UnitOfWork(AggregateStores stores)
    {
        Stores = stores;
    }

    /// <summary>The aggregate stores of this unit's engine; their methods take this unit.</summary>
    internal AggregateStores Stores { get; }

    /// <summary>Whether the unit may write.</summary>
    public abstract bool IsWrite { get; }

    /// <summary>Begins the write transaction now unless one is open (the writer does this at the start of a batch).</summary>
    public abstract void Begin();

    /// <summary>Commits the open transaction; a write unit begins the next one when it is used again.</summary>
    public abstract void Commit();

    /// <summary>Marks a point in the open transaction that <see cref="RollbackTo"/> can return to.</summary>
    public abstract void Savepoint(string name);

    /// <summary>Forgets a savepoint, keeping what was done since.</summary>
    public abstract void Release(string name);

    /// <summary>Undoes what was done since the savepoint (the savepoint stays until released).</summary>
    public abstract void RollbackTo(string name);

    /// <summary>
    /// A number that moves whenever another connection has committed a change to the store since this one last
    /// looked (SQLite: <c>PRAGMA data_version</c>; PostgreSQL: the count of others' write transactions); caches kept beside the store compare it to know they are stale.
    /// </summary>
    public abstract long ChangeStamp();

    /// <summary>Whether <paramref name="error"/> is a failure of the engine itself (busy, full, corrupt …) rather than of a rule.</summary>
    public abstract bool IsStoreFailure(Exception error);

    /// <summary>The engine's failure as the DlsException the front ends show (StoreBusy, StoreFull …); any other error unchanged.</summary>
    public abstract Exception Translate(Exception error);

    /// <summary>Rolls back what was not committed and closes the connection.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}
