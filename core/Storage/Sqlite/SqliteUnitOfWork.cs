using System.Data.Common;
using Dls.Core.Storage.Sql;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Sqlite;

/// <summary>
/// The SQLite unit of work: its write transaction is BEGIN IMMEDIATE (the file's one write lock), its change stamp
/// <c>PRAGMA data_version</c>, and its failures SQLite's result codes.
/// </summary>
internal sealed class SqliteUnitOfWork : SqlUnitOfWork
{
    private SqliteUnitOfWork(AggregateStores stores, SqliteConnection connection, SqliteTransaction? transaction, bool write, bool borrowed, string path)
        : base(stores, connection, transaction, write, borrowed, path, SqlDialect.Sqlite)
    {
    }

    /// <summary>A unit that owns <paramref name="connection"/>: disposing it closes the connection.</summary>
    /// <param name="beginNow">Begin the write transaction now rather than on first use.</param>
    public static SqliteUnitOfWork Open(AggregateStores stores, SqliteConnection connection, bool beginNow, bool write, string path)
    {
        var work = new SqliteUnitOfWork(stores, connection, null, write, borrowed: false, path);
        if (beginNow)
        {
            work.Begin();
        }

        return work;
    }

    /// <summary>
    /// A unit over a connection and transaction someone else owns (migrations): it never commits, rolls back or closes them.
    /// </summary>
    public static SqliteUnitOfWork Borrow(AggregateStores stores, SqliteConnection connection, SqliteTransaction? transaction, string path) =>
        new(stores, connection, transaction, write: transaction is not null, borrowed: true, path);

    public override long ChangeStamp() => (long)Command("PRAGMA data_version;").ExecuteScalar()!;

    public override bool IsStoreFailure(Exception error) => error is SqliteException;

    public override Exception Translate(Exception error) => error is SqliteException sqlite ? StoreFailures.Translate(sqlite, Path) : error;

    protected override DbTransaction BeginWriteTransaction() => ((SqliteConnection)Connection).BeginTransaction(deferred: false);

    protected override DbTransaction BeginSnapshotTransaction() => ((SqliteConnection)Connection).BeginTransaction(deferred: true);
}
