using System.Diagnostics;
using Dls.Core.Storage;

namespace Dls.Core.Usage;

/// <summary>
/// The listener writer's roll-ups, done later than the requests they come from. A request keeps its facts raw in its
/// own transaction (a report's batch row, an authorization's event row: what is acknowledged is durable) and hands
/// them here; they are rolled up together in a later commit of the writer, so that a device reporting many times in
/// that while writes its roll-up rows once, and the store's mark of what is rolled up moves in the same transaction.
/// <list type="bullet">
/// <item>When little is waiting and no request is queued (a quiet listener, and every test), the roll-ups are done in
/// the same commit as the request, before it is answered: <c>Get-DlsUsage</c> sees it at once.</item>
/// <item>Under load they wait at most <see cref="MaxDelay"/>, or until <see cref="MaxFacts"/> facts are waiting; the
/// "first seen" rows known to be stored cost no statement again (<see cref="SeenRows"/>).</item>
/// <item>After a crash, the facts above the mark are rolled up from the raw rows when the listener starts
/// (<see cref="CatchUp"/>); a clean stop rolls up what is waiting.</item>
/// <item>The mark assumes one writer: facts wait only while the listener may defer (it is a main and no other listener
/// of the store is alive, SPEC §7). Otherwise they are rolled up in the commit of their request, and what waited is
/// rolled up at the next commit. Another listener's start-up <see cref="CatchUp"/> may have rolled up facts that
/// waited here meanwhile: those whose raw row is at or below the store's mark are dropped, not counted twice.</item>
/// </list>
/// Used by the writer's thread only.
/// </summary>
public sealed class StatisticsBuffer : IDeferredWork
{
    /// <summary>
    /// How long a fact waits at most before it is rolled up. Longer waits let a busy device's reports share their roll-up
    /// rows (measured, docs/benchmarks.md: 0 ms ≈ 5–6.5k reports/s, 250 ms ≈ 6–9k, 1 s ≈ 8–12k on 2 cores), at the cost
    /// of one larger transaction a second under load, which the requests queued behind it wait for (p99.9 ≈ 0.2 s).
    /// </summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    /// <summary>With at most this many facts waiting and no request queued, they are rolled up now.</summary>
    public const int SmallFlush = 32;

    /// <summary>With this many facts waiting they are rolled up now (bounds the memory they take).</summary>
    public const int MaxFacts = 50_000;

    // Facts of committed requests, and of the requests of the batch now running (dropped if it fails).
    private readonly Pending _committed = new();
    private readonly Pending _current = new();
    private readonly SeenRows _seen = new();
    private readonly Func<bool> _mayDefer;
    private long _oldest;
    private bool _flushedInBatch;

    /// <param name="mayDefer">
    /// Whether facts may wait for a later commit now (asked before every commit, from the writer's thread): true while
    /// this listener is the store's only writer. Without it they always may (a listener alone on its store).
    /// </param>
    public StatisticsBuffer(Func<bool>? mayDefer = null)
    {
        _mayDefer = mayDefer ?? (static () => true);
    }

    /// <summary>How many facts wait to be rolled up.</summary>
    public int Waiting => _committed.Count + _current.Count;

    /// <summary>A report's facts, whose raw batch is row <paramref name="batchId"/>.</summary>
    public void Add(long batchId, IEnumerable<UsageFact> facts)
    {
        Started();
        var before = _current.Usage.Count;
        _current.Usage.AddRange(facts);
        for (var i = before; i < _current.Usage.Count; i++)
        {
            _current.UsageIds.Add(batchId);
        }
    }

    /// <summary>An authorization's fact, kept raw as row <paramref name="eventId"/>.</summary>
    public void Add(long eventId, AuthorizationFact fact)
    {
        Started();
        _current.Authorizations.Add(fact);
        _current.AuthIds.Add(eventId);
    }

    public TimeSpan? DueIn() =>
        Waiting == 0 ? null : _mayDefer() ? MaxDelay - Stopwatch.GetElapsedTime(_oldest) : TimeSpan.Zero;

    public void BeforeCommit(UnitOfWork work, bool idle, bool final)
    {
        var waiting = Waiting;
        if (waiting == 0)
        {
            return;
        }

        if (final || waiting >= MaxFacts || (idle && waiting <= SmallFlush) || Stopwatch.GetElapsedTime(_oldest) >= MaxDelay || !_mayDefer())
        {
            Flush(work);
        }
    }

    public void Committed()
    {
        if (_flushedInBatch)
        {
            _committed.Clear();
            _seen.Committed();
            _flushedInBatch = false;
        }
        else
        {
            _committed.Take(_current);
        }

        _current.Clear();
    }

    public void Failed()
    {
        _current.Clear();
        _seen.Failed();
        _flushedInBatch = false;
    }

    /// <summary>
    /// Rolls up what the raw tables hold above the marks (what a listener that stopped without rolling up left behind), in
    /// transactions of a few thousand rows. Run before the listener's writer starts.
    /// </summary>
    /// <returns>The number of raw rows rolled up.</returns>
    public static long CatchUp(DlsStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var features = new FeatureNames();
        long total = 0;
        while (true)
        {
            var done = store.Write(work =>
            {
                var usageMark = work.Stores.Usage.RolledUpThrough(work, RollupSource.UsageBatch);
                var batches = work.Stores.Usage.RawBatches(work, usageMark, 2000);
                var facts = new List<UsageFact>();
                foreach (var batch in batches)
                {
                    facts.AddRange(ReportFacts.Of(batch.ClientUuid, batch.HandshakeCode, batch.ReceivedAt, batch.Records,
                        (item, named) => features.Admit(work, item, named)));
                }

                UsageStatistics.RollUpUsage(work, facts);
                if (batches.Count > 0)
                {
                    work.Stores.Usage.SetRolledUpThrough(work, RollupSource.UsageBatch, batches[^1].Id);
                }

                var authMark = work.Stores.Usage.RolledUpThrough(work, RollupSource.AuthEvent);
                var events = work.Stores.Usage.RawAuthorizations(work, authMark, 10_000);
                UsageStatistics.RollUpAuthorizations(work, events.Select(e => e.Fact));
                if (events.Count > 0)
                {
                    work.Stores.Usage.SetRolledUpThrough(work, RollupSource.AuthEvent, events[^1].Id);
                }

                return batches.Count + events.Count;
            });
            total += done;
            if (done == 0)
            {
                return total;
            }
        }
    }

    private void Started()
    {
        if (Waiting == 0)
        {
            _oldest = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>
    /// Rolls up every waiting fact in the batch's transaction and moves the marks past their raw rows; facts whose raw
    /// row is at or below the store's mark were rolled up by another listener's catch-up, and are dropped.
    /// </summary>
    private void Flush(UnitOfWork work)
    {
        var usageMark = work.Stores.Usage.RolledUpThrough(work, RollupSource.UsageBatch);
        var (usage, usageLast) = Above(usageMark, _committed.Usage, _committed.UsageIds, _current.Usage, _current.UsageIds);
        if (usage.Count > 0)
        {
            UsageStatistics.RollUpUsage(work, usage, _seen);
            work.Stores.Usage.SetRolledUpThrough(work, RollupSource.UsageBatch, usageLast);
        }

        var authMark = work.Stores.Usage.RolledUpThrough(work, RollupSource.AuthEvent);
        var (authorizations, authLast) = Above(authMark, _committed.Authorizations, _committed.AuthIds, _current.Authorizations, _current.AuthIds);
        if (authorizations.Count > 0)
        {
            UsageStatistics.RollUpAuthorizations(work, authorizations);
            work.Stores.Usage.SetRolledUpThrough(work, RollupSource.AuthEvent, authLast);
        }

        _flushedInBatch = true;
    }

    /// <summary>The facts of both lists whose raw row is above <paramref name="mark"/>, and the last such row.</summary>
    private static (List<T> Facts, long Last) Above<T>(long mark, List<T> committed, List<long> committedIds, List<T> current, List<long> currentIds)
    {
        var last = 0L;
        if ((committedIds.Count == 0 || committedIds[0] > mark) && (currentIds.Count == 0 || currentIds[0] > mark))
        {
            // The usual case: nothing waiting was rolled up elsewhere (ids grow along each list).
            last = Math.Max(committedIds.Count == 0 ? 0 : committedIds[^1], currentIds.Count == 0 ? 0 : currentIds[^1]);
            return (committed.Count == 0 ? current : [.. committed, .. current], last);
        }

        var kept = new List<T>();
        Keep(committed, committedIds);
        Keep(current, currentIds);
        return (kept, last);

        void Keep(List<T> facts, List<long> ids)
        {
            for (var i = 0; i < facts.Count; i++)
            {
                if (ids[i] > mark)
                {
                    kept.Add(facts[i]);
                    last = Math.Max(last, ids[i]);
                }
            }
        }
    }

    private sealed class Pending
    {
        public List<UsageFact> Usage { get; } = [];

        public List<AuthorizationFact> Authorizations { get; } = [];

        /// <summary>The raw row of each fact of <see cref="Usage"/> (its report's batch), in the same order.</summary>
        public List<long> UsageIds { get; } = [];

        /// <summary>The raw row of each fact of <see cref="Authorizations"/> (its event), in the same order.</summary>
        public List<long> AuthIds { get; } = [];

        public int Count => Usage.Count + Authorizations.Count;

        public void Take(Pending other)
        {
            Usage.AddRange(other.Usage);
            Authorizations.AddRange(other.Authorizations);
            UsageIds.AddRange(other.UsageIds);
            AuthIds.AddRange(other.AuthIds);
        }

        public void Clear()
        {
            Usage.Clear();
            Authorizations.Clear();
            UsageIds.Clear();
            AuthIds.Clear();
        }
    }
}
