using System.Data.Common;

namespace Dls.Core.Storage.Sql;

/// <summary>
/// A unit of work over an ADO.NET connection, shared by both engines: the connection, its write transaction and its
/// prepared statements. The aggregate stores in <c>Storage/Sql</c> hold one body of SQL for SQLite and PostgreSQL;
/// where the two dialects differ, they ask <see cref="Dialect"/>. Each engine's subclass says how a write transaction
/// begins (SQLite: BEGIN IMMEDIATE; PostgreSQL: the store's write lock row) and how its failures read.
/// </summary>
/// <remarks>
/// Both drivers compile a command's SQL once and keep it with the command object (PostgreSQL through Npgsql's automatic
/// preparation); the listener's writer runs the same few dozen statements thousands of times a second on one
/// connection, so the unit keeps one command per SQL text for as long as its connection lives.
/// </remarks>
internal abstract class SqlUnitOfWork : UnitOfWork
{
    private readonly Dictionary<string, DbCommand> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, object> _sets = [];
    private readonly List<DbCommand> _prepared = [];
    private readonly bool _write;
    private DbTransaction? _transaction;
    private bool _disposed;

    protected SqlUnitOfWork(AggregateStores stores, DbConnection connection, DbTransaction? transaction, bool write, bool borrowed, string path, SqlDialect dialect)
        : base(stores)
    {
        Connection = connection;
        _transaction = transaction;
        _write = write;
        Borrowed = borrowed;
        Path = path;
        Dialect = dialect;
    }

    public DbConnection Connection { get; }

    /// <summary>Where the differing bits of SQL come from.</summary>
    public SqlDialect Dialect { get; }

    /// <summary>The store's path or URI, for error messages.</summary>
    public string Path { get; }

    /// <summary>Whether the connection and transaction belong to someone else (code not yet moved onto units of work).</summary>
    protected bool Borrowed { get; }

    /// <summary>The open transaction; a write unit begins one when there is none.</summary>
    public DbTransaction? Transaction
    {
        get
        {
            if (_transaction is null && _write && !Borrowed)
            {
                _transaction = BeginWriteTransaction();
            }

            return _transaction;
        }
    }

    public override bool IsWrite => _write;

    /// <summary>The SQL unit behind <paramref name="work"/>; the SQL stores accept no other.</summary>
    public static SqlUnitOfWork Of(UnitOfWork work) =>
        work as SqlUnitOfWork ?? throw new InvalidOperationException($"A SQL store was given a unit of work of another kind ({work.GetType().Name}).");

    /// <summary>
    /// A unit over a connection and transaction someone else owns (code not yet moved onto units of work, migrations):
    /// it never commits, rolls back or closes them.
    /// </summary>
    public static SqlUnitOfWork Borrow(DbConnection connection, DbTransaction? transaction) => connection switch
    {
        Microsoft.Data.Sqlite.SqliteConnection sqlite =>
            Sqlite.SqliteUnitOfWork.Borrow(SqlStores.All, sqlite, (Microsoft.Data.Sqlite.SqliteTransaction?)transaction, sqlite.DataSource),
        Npgsql.NpgsqlConnection npgsql =>
            Postgres.PostgresUnitOfWork.Borrow(SqlStores.All, npgsql, (Npgsql.NpgsqlTransaction?)transaction, npgsql.Database ?? string.Empty),
        _ => throw new NotSupportedException($"No store engine uses {connection.GetType().Name}."),
    };

    /// <summary>The prepared command for <paramref name="sql"/>, in the open transaction, with no parameters.</summary>
    /// <remarks>Do not dispose it, and finish with a reader before asking for the same SQL again.</remarks>
    public DbCommand Command(string sql)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_statements.TryGetValue(sql, out var command))
        {
            command = Connection.CreateCommand();
            command.CommandText = Dialect.Translate(sql);
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
    public DbCommand Prepare(string sql, params string[] parameters)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var command = Connection.CreateCommand();
        command.CommandText = Dialect.Translate(sql);
        foreach (var name in parameters)
        {
            command.Parameters.AddUnset(name);
        }

        _prepared.Add(command);
        return command;
    }

    /// <summary>The unit's one set of statements of type <typeparamref name="T"/>, made by <paramref name="create"/> on first use.</summary>
    public T Statements<T>(Func<SqlUnitOfWork, T> create)
        where T : class
    {
        if (!_sets.TryGetValue(typeof(T), out var set))
        {
            set = create(this);
            _sets[typeof(T)] = set;
        }

        return (T)set;
    }

    /// <summary>Makes a read unit read one snapshot until it is disposed.</summary>
    public void BeginSnapshot()
    {
        if (_write || Borrowed || _transaction is not null)
        {
            throw new InvalidOperationException("Only a new read unit of work can begin a snapshot.");
        }

        _transaction = BeginSnapshotTransaction();
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
        if (Borrowed)
        {
            throw new InvalidOperationException("This unit of work borrows its transaction; its owner commits it.");
        }

        if (_transaction is { } transaction)
        {
            _transaction = null;
            transaction.Commit();
            transaction.Dispose();
            Committed();
        }
    }

    public override void Savepoint(string name) => RequireTransaction().Save(name);

    public override void Release(string name) => RequireTransaction().Release(name);

    public override void RollbackTo(string name) => RequireTransaction().Rollback(name);

    /// <summary>Begins this engine's write transaction, which excludes every other writer of the store until it ends.</summary>
    protected abstract DbTransaction BeginWriteTransaction();

    /// <summary>Begins a read transaction that sees one snapshot.</summary>
    protected abstract DbTransaction BeginSnapshotTransaction();

    /// <summary>Called after a write transaction of this unit committed.</summary>
    protected virtual void Committed()
    {
    }

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
        if (Borrowed)
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

    private DbTransaction RequireTransaction() =>
        Transaction ?? throw new InvalidOperationException("The unit of work has no open transaction.");
}
