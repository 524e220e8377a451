using Dls.Core.Storage;
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
/// (auth_event, usage_record: kept for the retention period, see <see cref="UsageRetention"/>) and added to the
/// roll-ups that <see cref="UsageQuery"/> reads (kept for ever).
/// </summary>
public static class UsageStatistics
{
    public static void RecordAuthorization(SqliteConnection connection, SqliteTransaction transaction, AuthorizationFact fact) =>
        RecordAuthorizations(connection, transaction, [fact]);

    public static void RecordUsage(SqliteConnection connection, SqliteTransaction transaction, UsageFact fact) =>
        RecordUsage(connection, transaction, [fact]);

    /// <summary>Records several authorizations adding up their roll-up rows in memory first (the listener's path).</summary>
    public static void RecordAuthorizations(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<AuthorizationFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(connection, transaction);
        var raw = RawAuthorizationCommand(connection, transaction);
        foreach (var fact in facts)
        {
            raw.Parameters["$time"].Value = Timestamps.Format(fact.Time);
            raw.Parameters["$slice"].Value = Timestamps.Format(TimeSlice.StartOf(fact.Time));
            raw.Parameters["$code"].Value = fact.HandshakeCode;
            raw.Parameters["$item"].Value = fact.ItemId;
            raw.Parameters["$client"].Value = fact.ClientUuid;
            raw.Parameters["$error"].Value = fact.ErrorCode;
            raw.ExecuteNonQuery();
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    /// <summary>Records a batch of report records adding up their roll-up rows in memory first (the listener's path).</summary>
    public static void RecordUsage(SqliteConnection connection, SqliteTransaction transaction, IEnumerable<UsageFact> facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var rollups = new UsageRollupWriter(connection, transaction);
        var raw = RawUsageCommand(connection, transaction);
        foreach (var fact in facts)
        {
            raw.Parameters["$received"].Value = Timestamps.Format(fact.ReceivedAt);
            raw.Parameters["$slice"].Value = Timestamps.Format(TimeSlice.StartOf(fact.Slice));
            raw.Parameters["$code"].Value = fact.HandshakeCode;
            raw.Parameters["$item"].Value = fact.ItemId;
            raw.Parameters["$client"].Value = fact.ClientUuid;
            raw.Parameters["$instance"].Value = fact.InstanceId ?? string.Empty;
            raw.Parameters["$count"].Value = fact.Count;
            raw.Parameters["$features"].Value = fact.Features is null || fact.Features.Count == 0
                ? DBNull.Value
                : System.Text.Json.JsonSerializer.Serialize(fact.Features);
            raw.ExecuteNonQuery();
            rollups.Add(fact);
        }

        rollups.Flush();
    }

    private static SqliteCommand RawAuthorizationCommand(SqliteConnection connection, SqliteTransaction transaction)
    {
        return StatementCache.Get(connection, transaction, """
            INSERT INTO auth_event (time, slice, handshake_code, item_id, client_uuid, error_code)
            VALUES ($time, $slice, $code, $item, $client, $error);
            """, "$time", "$slice", "$code", "$item", "$client", "$error");
    }

    private static SqliteCommand RawUsageCommand(SqliteConnection connection, SqliteTransaction transaction)
    {
        return StatementCache.Get(connection, transaction, """
            INSERT INTO usage_record (received_at, slice, handshake_code, item_id, client_uuid, instance_id, count, features)
            VALUES ($received, $slice, $code, $item, $client, $instance, $count, $features);
            """, "$received", "$slice", "$code", "$item", "$client", "$instance", "$count", "$features");
    }
}
