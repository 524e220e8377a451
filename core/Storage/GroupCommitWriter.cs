using System.Threading.Channels;

namespace Dls.Core.Storage;

/// <summary>
/// The listener's one writer (group commit): requests queue on a channel, one loop takes as many as are waiting
/// (up to <see cref="MaxBatch"/>), runs each inside its own savepoint of one transaction, commits, and only then
/// completes them. So every acknowledged request is durable, decisions that consume a seat are serialised (two
/// requests never decide on the same count), and one commit's fsync is shared by the whole batch.
/// A request that throws is rolled back to its savepoint and fails alone; its neighbours commit.
/// </summary>
public sealed class GroupCommitWriter : IAsyncDisposable
{
    public const int MaxBatch = 512;

    private readonly DlsStore _store;
    private readonly Action<UnitOfWork>? _maintenance;
    private readonly Action<UnitOfWork>? _beforeCommit;
    private readonly Action? _afterRollback;
    private readonly Action? _afterCommit;
    private readonly IDeferredWork? _deferred;
    private readonly TimeSpan _maintenanceEvery;
    private readonly Channel<IWork> _queue = Channel.CreateBounded<IWork>(new BoundedChannelOptions(100_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTime _lastMaintenance = DateTime.MinValue;

    /// <param name="maintenance">Housekeeping run inside a batch's transaction at most every <paramref name="maintenanceEvery"/>.</param>
    /// <param name="beforeCommit">Runs after the batch's requests, in its transaction; when it throws, the whole batch fails.</param>
    /// <param name="afterRollback">Runs when a request was rolled back or a batch failed, for state kept beside the store.</param>
    /// <param name="afterCommit">Runs once a batch has committed, before its requests are answered, for state kept beside the store.</param>
    /// <param name="deferred">Work done in a later commit than the requests that caused it (see <see cref="IDeferredWork"/>).</param>
    public GroupCommitWriter(
        DlsStore store,
        Action<UnitOfWork>? maintenance = null,
        TimeSpan? maintenanceEvery = null,
        Action<UnitOfWork>? beforeCommit = null,
        Action? afterRollback = null,
        Action? afterCommit = null,
        IDeferredWork? deferred = null)
    {
        _deferred = deferred;
        _afterCommit = afterCommit;
        _store = store;
        _maintenance = maintenance;
        _beforeCommit = beforeCommit;
        _afterRollback = afterRollback;
        _maintenanceEvery = maintenanceEvery ?? TimeSpan.FromMinutes(1);
        // A thread of its own that blocks while the queue is empty: the writer's connection stays on one core's caches,
        // and it never waits behind (or holds up) the thread pool that serves the requests.
        new Thread(Run) { IsBackground = true, Name = "DLS group commit" }.Start();
    }

    private interface IWork
    {
        void Run(UnitOfWork work);

        void Commit();

        void Fail(Exception error);
    }

    /// <summary>Queues <paramref name="work"/>; the task completes after the transaction holding it has committed.</summary>
    public async Task<T> SubmitAsync<T>(Func<UnitOfWork, T> work, CancellationToken cancellationToken = default)
    {
        var item = new Work<T>(work);
        await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        return await item.Completion.Task.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task.ConfigureAwait(false);
    }

    private void Run()
    {
        var batch = new List<IWork>(MaxBatch);
        UnitOfWork? unit = null;
        try
        {
            bool open;
            while ((open = WaitForWork()) || _deferred?.DueIn() is not null)
            {
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next))
                {
                    batch.Add(next);
                }

                try
                {
                    unit ??= _store.OpenWriter();
                    RunBatch(unit, batch, idle: _queue.Reader.Count == 0, final: !open);
                }
                catch (Exception error)
                {
                    // The commit (or BEGIN) failed: nothing of the batch is durable, so nothing is acknowledged.
                    _afterRollback?.Invoke();
                    _deferred?.Failed();
                    foreach (var work in batch)
                    {
                        work.Fail(error);
                    }

                    unit?.Dispose();
                    unit = null;
                    if (!open)
                    {
                        // Stopping, and the last deferred work could not be stored: the next start rebuilds it.
                        break;
                    }
                }

                batch.Clear();
            }
        }
        finally
        {
            unit?.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>
    /// Blocks until a request is queued or deferred work is due (true), or the queue is completed and empty (false).
    /// </summary>
    private bool WaitForWork()
    {
        var wait = _queue.Reader.WaitToReadAsync();
        if (wait.IsCompleted)
        {
            return wait.Result;
        }

        var task = wait.AsTask();
        while (_deferred?.DueIn() is { } due)
        {
            if (due <= TimeSpan.Zero || task.Wait(due))
            {
                return !task.IsCompleted || task.Result;
            }
        }

        return task.GetAwaiter().GetResult();
    }

    private void RunBatch(UnitOfWork unit, List<IWork> batch, bool idle, bool final)
    {
        var failed = new List<(IWork Work, Exception Error)>();
        var done = new List<IWork>(batch.Count);
        // A failure here (BEGIN, a store-wide error, the commit) leaves the batch uncommitted: the caller drops the unit,
        // which rolls it back, fails every request of the batch, and opens a new unit for the next one.
        unit.Begin();
        foreach (var work in batch)
        {
            unit.Savepoint("request");
            try
            {
                work.Run(unit);
                unit.Release("request");
                done.Add(work);
            }
            catch (Exception error)
            {
                unit.RollbackTo("request");
                unit.Release("request");
                _afterRollback?.Invoke();
                failed.Add((work, error));
            }
        }

        _deferred?.BeforeCommit(unit, idle, final);
        _beforeCommit?.Invoke(unit);

        if (_maintenance is not null && DateTime.UtcNow - _lastMaintenance >= _maintenanceEvery)
        {
            _lastMaintenance = DateTime.UtcNow;
            unit.Savepoint("maintenance");
            try
            {
                _maintenance(unit);
                unit.Release("maintenance");
            }
            catch (Exception error) when (unit.IsStoreFailure(error))
            {
                unit.RollbackTo("maintenance");
                unit.Release("maintenance");
            }
        }

        unit.Commit();

        _deferred?.Committed();
        _afterCommit?.Invoke();

        foreach (var work in done)
        {
            work.Commit();
        }

        foreach (var (work, error) in failed)
        {
            work.Fail(error);
        }
    }

    private sealed class Work<T>(Func<UnitOfWork, T> work) : IWork
    {
        private T? _result;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Run(UnitOfWork unit) => _result = work(unit);

        public void Commit() => Completion.TrySetResult(_result!);

        public void Fail(Exception error) => Completion.TrySetException(error);
    }
}
