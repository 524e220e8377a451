using Dls.Core.Storage;
using Dls.Core.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Usage;

/// <summary>One authorization request as statistics count it (SPEC §7 statistics attribution).</summary>
/// <param name="HandshakeCode">Empty when the request was refused before a code was known (101, 123).</param>
/// <param name="ItemId">Empty when it was refused before an item was chosen.</param>
/// <param name="ErrorCode">0 when granted, else the refusal's error code.</param>
public sealed record AuthorizationFact(DateTimeOffset Time, string HandshakeCode, string ItemId, string ClientUuid, int ErrorCode);

/// <summary>One accepted report record.</summary>
public sealed record UsageFact(
    DateTimeOffset ReceivedAt,
    DateTimeOffset Slice,
    string HandshakeCode,
    string ItemId,
    string ClientUuid,
    string InstanceId,
    long Count,
    IReadOnlyDictionary<string, long>? Features);

/// <summary>
/// Records the facts statistics are made of, inside the caller's transaction, so that a request and its
/// statistics commit together (nothing acknowledged is lost, nothing is counted twice). Each fact is kept raw
/// (auth_event, usage_record) and added to the roll-ups that <see cref="UsageQuery"/> reads; <see cref="UsageRetention"/>
/// says what is kept how long.
/// </summary>
public static class UsageStatistics
{
    public static void RecordAuthorization(UnitOfWork work, AuthorizationFact fact) => RecordAuthorizations(work, [fact]);

    public static void RecordUsage(UnitOfWork work, UsageFact fact) => RecordUsage(work, [fact]);

    /// <summary>Records several authorizations adding up their roll-up rows in memory first (the listener's path).</summary>
    public static void RecordAuthorizations(UnitOfWork work, IEnumerable<AuthorizationFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(work);
        foreach (var fact in facts)
        {
            work.Stores.Usage.AddAuthorizationEvent(work, fact);
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    /// <summary>Records a batch of report records adding up their roll-up rows in memory first (the listener's path).</summary>
    public static void RecordUsage(UnitOfWork work, IEnumerable<UsageFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(work);
        foreach (var fact in facts)
        {
            work.Stores.Usage.AddUsageRecord(work, fact);
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    // For code not yet moved onto units of work: the same on a connection and transaction the caller owns.
    public static void RecordAuthorization(SqliteConnection connection, SqliteTransaction transaction, AuthorizationFact fact) =>
        Borrowed(connection, transaction, work => RecordAuthorization(work, fact));

    public static void RecordUsage(SqliteConnection connection, SqliteTransaction transaction, UsageFact fact) =>
        Borrowed(connection, transaction, work => RecordUsage(work, fact));

    public static void RecordAuthorizations(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<AuthorizationFact> facts) =>
        Borrowed(connection, transaction, work => RecordAuthorizations(work, facts));

    public static void RecordUsage(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<UsageFact> facts) =>
        Borrowed(connection, transaction, work => RecordUsage(work, facts));

    private static void Borrowed(SqliteConnection connection, SqliteTransaction transaction, Action<UnitOfWork> write)
    {
        using var work = SqliteUnitOfWork.Borrow(SqliteStores.All, connection, transaction, connection.DataSource);
        write(work);
    }
}
