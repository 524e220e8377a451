using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using System.Data.Common;

namespace Dls.Core.Usage;

/// <summary>One authorization request as statistics count it (SPEC §7 statistics attribution).</summary>
/// <param name="HandshakeCode">Empty when the request was refused before a code was known (101, 123).</param>
/// <param name="ItemId">Empty when it was refused before an item was chosen.</param>
/// <param name="ErrorCode">0 when granted, else the refusal's error code.</param>
public sealed record AuthorizationFact(DateTimeOffset Time, string HandshakeCode, string ItemId, string ClientUuid, int ErrorCode);

/// <summary>
/// One accepted report record, or the sum of several (<see cref="Records"/>) of one report that name the same slice,
/// item and instance: the roll-ups count each of them as a report, and add up their counts and features.
/// </summary>
public sealed record UsageFact(
    DateTimeOffset ReceivedAt,
    DateTimeOffset Slice,
    string HandshakeCode,
    string ItemId,
    string ClientUuid,
    string InstanceId,
    long Count,
    IReadOnlyDictionary<string, long>? Features)
{
    /// <summary>How many report records this fact stands for.</summary>
    public int Records { get; init; } = 1;
}

/// <summary>
/// Records the facts statistics are made of, inside the caller's transaction, so that a request and its
/// statistics commit together (nothing acknowledged is lost, nothing is counted twice). Each fact is kept raw
/// (auth_event; usage_batch, one row per report batch) and added to the roll-ups that <see cref="UsageQuery"/> reads;
/// <see cref="UsageRetention"/> says what is kept how long. The listener keeps a report's raw batch itself (with the
/// client's batch id, see <c>LicenseAuthority.Report</c>) and rolls its facts up later (<see cref="StatisticsBuffer"/>).
/// </summary>
public static class UsageStatistics
{
    public static void RecordAuthorization(UnitOfWork work, AuthorizationFact fact) => RecordAuthorizations(work, [fact]);

    public static void RecordUsage(UnitOfWork work, UsageFact fact) => RecordUsage(work, [fact]);

    /// <summary>Records authorizations (raw and rolled up) that did not go through the listener's writer (tools, tests).</summary>
    public static void RecordAuthorizations(UnitOfWork work, IEnumerable<AuthorizationFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var list = facts as IReadOnlyList<AuthorizationFact> ?? facts.ToList();
        long first = 0, last = 0;
        foreach (var fact in list)
        {
            last = work.Stores.Usage.AddAuthorizationEvent(work, fact);
            first = first == 0 ? last : first;
        }

        RollUpAuthorizations(work, list);
        if (list.Count > 0)
        {
            RolledUp(work, RollupSource.AuthEvent, last, first);
        }
    }

    /// <summary>Adds authorizations whose raw rows are already kept to the roll-ups, each touched row written once.</summary>
    public static void RollUpAuthorizations(UnitOfWork work, IEnumerable<AuthorizationFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(work);
        foreach (var fact in facts)
        {
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    /// <summary>
    /// Raw rows <paramref name="first"/>..<paramref name="last"/> of <paramref name="source"/> were just rolled up along with
    /// them: the mark moves past them when nothing below them waits (else a listener's writer holds facts still to be
    /// rolled up, and moves the mark itself).
    /// </summary>
    public static void RolledUp(UnitOfWork work, RollupSource source, long last, long first = 0)
    {
        first = first == 0 ? last : first;
        if (work.Stores.Usage.RolledUpThrough(work, source) == first - 1)
        {
            work.Stores.Usage.SetRolledUpThrough(work, source, last);
        }
    }

    /// <summary>
    /// Records report records that came by another way than a report batch (imports, tools, tests): kept raw as one
    /// batch per client, code and time received, under a batch id of their own, and rolled up.
    /// </summary>
    public static void RecordUsage(UnitOfWork work, IEnumerable<UsageFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var list = facts as IReadOnlyList<UsageFact> ?? facts.ToList();
        long first = 0, last = 0;
        foreach (var batch in list.GroupBy(f => (f.ClientUuid, f.HandshakeCode, f.ReceivedAt)))
        {
            var records = batch.Select(f => new RawUsageRecord(TimeSlice.StartOf(f.Slice), f.ItemId, f.InstanceId, f.Count, f.Features)).ToList();
            var clientId = work.Stores.Usage.ClientId(work, batch.Key.ClientUuid);
            last = work.Stores.Usage.AddBatch(work, clientId, RawUsageBatch.KeyOf(Guid.NewGuid().ToString("N")), batch.Key.ReceivedAt,
                batch.Key.HandshakeCode, RawUsageBatch.Encode(batch.Key.ReceivedAt, records))!.Value;
            first = first == 0 ? last : first;
        }

        RollUpUsage(work, list);
        if (last > 0)
        {
            RolledUp(work, RollupSource.UsageBatch, last, first);
        }
    }

    /// <summary>Adds report facts whose raw batch is already kept to the roll-ups, each touched row written once.</summary>
    public static void RollUpUsage(UnitOfWork work, IEnumerable<UsageFact> facts) => RollUpUsage(work, facts, null);

    /// <param name="known">The "first seen" rows the listener's writer knows to be stored (see <see cref="SeenRows"/>).</param>
    internal static void RollUpUsage(UnitOfWork work, IEnumerable<UsageFact> facts, SeenRows? known)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(work, known);
        foreach (var fact in facts)
        {
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    // For code not yet moved onto units of work: the same on a connection and transaction the caller owns.
    public static void RecordAuthorization(DbConnection connection, DbTransaction transaction, AuthorizationFact fact) =>
        Borrowed(connection, transaction, work => RecordAuthorization(work, fact));

    public static void RecordUsage(DbConnection connection, DbTransaction transaction, UsageFact fact) =>
        Borrowed(connection, transaction, work => RecordUsage(work, fact));

    public static void RecordAuthorizations(DbConnection connection, DbTransaction transaction, IEnumerable<AuthorizationFact> facts) =>
        Borrowed(connection, transaction, work => RecordAuthorizations(work, facts));

    public static void RecordUsage(DbConnection connection, DbTransaction transaction, IEnumerable<UsageFact> facts) =>
        Borrowed(connection, transaction, work => RecordUsage(work, facts));

    private static void Borrowed(DbConnection connection, DbTransaction transaction, Action<UnitOfWork> write)
    {
        using var work = SqlUnitOfWork.Borrow(connection, transaction);
        write(work);
    }
}
