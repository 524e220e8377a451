using Microsoft.Data.Sqlite;

namespace Dls.Core.Storage.Sqlite;

/// <summary>
/// The SQLite unit of work: one connection, its write transaction (BEGIN IMMEDIATE) and its prepared statements.
/// Microsoft.Data.Sqlite compiles a command's SQL the first time it runs and keeps the compiled statement with the
/// command object; the listener's writer runs the same few dozen statements thousands of times a second on one
/// connection, so the unit keeps one command per SQL text for as long as its connection lives.
/// </summary>
internal sealed class SqliteUnitOfWork : UnitOfWork
{
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, object> _sets = [];
    private readonly List<SqliteCommand> _prepared = [];
    private readonly bool _write;
    private readonly bool _borrowed;
    private readonly string _path;
    private SqliteTransaction? _transaction;
    private bool _disposed;

    private SqliteUnitOfWork(AggregateStores stores, SqliteConnection connection, SqliteTransaction? transaction, bool write, bool borrowed, string path)
        : base(stores)
    {
        Connection = connection;
        _transaction = transaction;
        _write = write;
        _borrowed = borrowed;
        _path = path;
    }

    public SqliteConnection Connection { get; }

    /// <summary>The open transaction; a write unit begins one when there is none.</summary>
    public SqliteTransaction? Transaction
    {
        get
        {
            if (_transaction is null && _write && !_borrowed)
            {
                _transaction = Connection.BeginTransaction(deferred: false);
            }

            return _transaction;
        }
    }

    public override bool IsWrite => _write;

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
    /// A unit over a connection and transaction someone else owns (code not yet moved onto units of work): it never
    /// commits, rolls back or closes them.
    /// </summary>
    public static SqliteUnitOfWork Borrow(AggregateStores stores, SqliteConnection connection, SqliteTransaction? transaction, string path) =>
        new(stores, connection, transaction, write: transaction is not null, borrowed: true, path);

    /// <summary>The SQLite unit behind <paramref name="work"/>; the SQLite stores accept no other.</summary>
    public static SqliteUnitOfWork Of(UnitOfWork work) =>
        work as SqliteUnitOfWork ?? throw new InvalidOperationException($"A SQLite store was given a unit of work of another engine ({work.GetType().Name}).");

    /// <summary>The prepared command for <paramref name="sql"/>, in the open transaction, with no parameters.</summary>
    /// <remarks>Do not dispose it, and finish with a reader before asking for the same SQL again.</remarks>
    public SqliteCommand Command(string sql)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = sql;
            _statements[sql] = command;
        }

        command.Transaction = Transaction;
        command.Parameters.Clear();
        return command;
    }

    /// <summary>
    /// A new prepared command with the named parameters added once (values then set by index), kept for as long as
    /// the unit lives: for sets of statements a hot path runs many times (<see cref="Statements{T}"/>).
    /// </summary>
    public SqliteCommand Prepare(string sql, params string[] parameters)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var command = Connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        _prepared.Add(command);
        return command;
    }

    /// <summary>The unit's one set of statements of type <typeparamref name="T"/>, made by <paramref name="create"/> on first use.</summary>
    public T Statements<T>(Func<SqliteUnitOfWork, T> create)
        where T : class
    {
        if (!_sets.TryGetValue(typeof(T), out var set))
        {
            set = create(this);
            _sets[typeof(T)] = set;
        }

        return (T)set;
    }

    /// <summary>Makes a read unit read one snapshot (a deferred transaction) until it is disposed.</summary>
    public void BeginSnapshot()
    {
        if (_write || _borrowed || _transaction is not null)
        {
            throw new InvalidOperationException("Only a new read unit of work can begin a snapshot.");
        }

        _transaction = Connection.BeginTransaction(deferred: true);
    }

    public override void Begin()
    {
        if (!_write)
        {
            throw new InvalidOperationException("A read unit of work has no write transaction.");
        }

        _ = Transaction;
    }

    public override void Commit()
    {
        if (_borrowed)
        {
            throw new InvalidOperationException("This unit of work borrows its transaction; its owner commits it.");
        }

        if (_transaction is { } transaction)
        {
            _transaction = null;
            transaction.Commit();
            transaction.Dispose();
        }
    }

    public override void Savepoint(string name) => RequireTransaction().Save(name);

    public override void Release(string name) => RequireTransaction().Release(name);

    public override void RollbackTo(string name) => RequireTransaction().Rollback(name);

    public override long ChangeStamp() => (long)Command("PRAGMA data_version;").ExecuteScalar()!;

    public override bool IsStoreFailure(Exception error) => error is SqliteException;

    public override Exception Translate(Exception error) => error is SqliteException sqlite ? StoreFailures.Translate(sqlite, _path) : error;

    protected override void Dispose(bool disposing)
    {
        if (_disposed || !disposing)
        {
            return;
        }

        _disposed = true;
        foreach (var command in _statements.Values)
        {
            command.Dispose();
        }

        _statements.Clear();
        foreach (var command in _prepared)
        {
            command.Dispose();
        }

        _prepared.Clear();
        _sets.Clear();
        if (_borrowed)
        {
            return;
        }

        try
        {
            _transaction?.Dispose();
        }
        finally
        {
            _transaction = null;
            Connection.Dispose();
        }
    }

    private SqliteTransaction RequireTransaction() =>
        Transaction ?? throw new InvalidOperationException("The unit of work has no open transaction.");
}
