using System.Data;
using System.Data.Common;
using Dls.Core.Storage.Sql;
using Npgsql;

namespace Dls.Core.Storage.Postgres;

/// <summary>
/// The PostgreSQL unit of work. A write transaction (READ COMMITTED) first updates the store's one <c>store_lock</c> row,
/// so that the writers of every listener and cmdlet on the database follow one another as SQLite's BEGIN IMMEDIATE makes
/// them: what a writer counted (seats, quotas, batch ids) cannot change under it before it commits, and several
/// listeners never grant more than one would. The row counts the committed write transactions, which is the change stamp.
/// </summary>
internal sealed class PostgresUnitOfWork : SqlUnitOfWork
{
    private long _ownCommits;
    private long? _writesBefore;

    private PostgresUnitOfWork(AggregateStores stores, NpgsqlConnection connection, NpgsqlTransaction? transaction, bool write, bool borrowed, string path)
        : base(stores, connection, transaction, write, borrowed, path, SqlDialect.PostgreSql)
    {
    }

    /// <summary>A unit that owns <paramref name="connection"/>: disposing it closes the connection.</summary>
    public static PostgresUnitOfWork Open(AggregateStores stores, NpgsqlConnection connection, bool beginNow, bool write, string path)
    {
        var work = new PostgresUnitOfWork(stores, connection, null, write, borrowed: false, path);
        if (beginNow)
        {
            work.Begin();
        }

        return work;
    }

    /// <summary>A unit over a connection and transaction someone else owns (migrations): it never commits, rolls back or closes them.</summary>
    public static PostgresUnitOfWork Borrow(AggregateStores stores, NpgsqlConnection connection, NpgsqlTransaction? transaction, string path) =>
        new(stores, connection, transaction, write: transaction is not null, borrowed: true, path);

    /// <summary>
    /// The write transactions others have committed: inside this unit's own write transaction, the count read when its
    /// lock was taken (no one else commits a write while it is held); otherwise read now. This unit's own commits are left
    /// out, as SQLite's <c>data_version</c> leaves out a connection's own.
    /// </summary>
    public override long ChangeStamp()
    {
        var all = _writesBefore ?? Convert.ToInt64(Command("SELECT writes FROM store_lock WHERE id = 1;").ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        return all - _ownCommits;
    }

    public override bool IsStoreFailure(Exception error) => error is NpgsqlException;

    public override Exception Translate(Exception error) => error is NpgsqlException npgsql ? PostgresFailures.Translate(npgsql, Path) : error;

    protected override DbTransaction BeginWriteTransaction()
    {
        var transaction = ((NpgsqlConnection)Connection).BeginTransaction(IsolationLevel.ReadCommitted);
        try
        {
            using var lockRow = Connection.CreateCommand();
            lockRow.Transaction = transaction;
            lockRow.CommandText = "UPDATE store_lock SET writes = writes + 1 WHERE id = 1 RETURNING writes;";
            _writesBefore = Convert.ToInt64(lockRow.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) - 1;
            return transaction;
        }
        catch
        {
            transaction.Dispose();
            throw;
        }
    }

    protected override DbTransaction BeginSnapshotTransaction() => ((NpgsqlConnection)Connection).BeginTransaction(IsolationLevel.RepeatableRead);

    protected override void Committed()
    {
        _ownCommits++;
        _writesBefore = null;
    }

    protected override void Dispose(bool disposing)
    {
        _writesBefore = null;
        base.Dispose(disposing);
    }
}
