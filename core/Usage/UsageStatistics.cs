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
/// statistics commit together (nothing acknowledged is lost, nothing is counted twice).
/// </summary>
public static class UsageStatistics
{
    public static void RecordAuthorization(SqliteConnection connection, SqliteTransaction transaction, AuthorizationFact fact)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO auth_event (time, slice, handshake_code, item_id, client_uuid, error_code)
            VALUES ($time, $slice, $code, $item, $client, $error);
            """;
        command.Parameters.AddWithValue("$time", Timestamps.Format(fact.Time));
        command.Parameters.AddWithValue("$slice", Timestamps.Format(TimeSlice.StartOf(fact.Time)));
        command.Parameters.AddWithValue("$code", fact.HandshakeCode);
        command.Parameters.AddWithValue("$item", fact.ItemId);
        command.Parameters.AddWithValue("$client", fact.ClientUuid);
        command.Parameters.AddWithValue("$error", fact.ErrorCode);
        command.ExecuteNonQuery();
    }

    public static void RecordUsage(SqliteConnection connection, SqliteTransaction transaction, UsageFact fact)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO usage_record (received_at, slice, handshake_code, item_id, client_uuid, instance_id, count, features)
            VALUES ($received, $slice, $code, $item, $client, $instance, $count, $features);
            """;
        command.Parameters.AddWithValue("$received", Timestamps.Format(fact.ReceivedAt));
        command.Parameters.AddWithValue("$slice", Timestamps.Format(TimeSlice.StartOf(fact.Slice)));
        command.Parameters.AddWithValue("$code", fact.HandshakeCode);
        command.Parameters.AddWithValue("$item", fact.ItemId);
        command.Parameters.AddWithValue("$client", fact.ClientUuid);
        command.Parameters.AddWithValue("$instance", fact.InstanceId);
        command.Parameters.AddWithValue("$count", fact.Count);
        command.Parameters.AddWithValue("$features", fact.Features is null || fact.Features.Count == 0
            ? DBNull.Value
            : System.Text.Json.JsonSerializer.Serialize(fact.Features));
        command.ExecuteNonQuery();
    }
}
