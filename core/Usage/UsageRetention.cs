using System.Globalization;
using Dls.Core.Errors;
using Dls.Core.Storage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Usage;

/// <summary>What <see cref="UsageRetention.Purge"/> removed.</summary>
public sealed record UsagePurgeResult(DateTimeOffset Cutoff, long UsageRecords, long AuthorizationEvents, long DeviceRows);

/// <summary>
/// How long raw statistics facts are kept. Raw records (usage_record, auth_event) and the per-device slice and hour
/// rows are removed once older than the retention period (default 400 days, stored in the store); the roll-ups per
/// code and item, per feature, and the per-device day and month rows are kept for ever, so Get-DlsUsage keeps
/// answering for old periods at day and month level.
/// </summary>
public sealed class UsageRetention
{
    public const int DefaultDays = 400;

    // Deleting in chunks keeps each write transaction short: the listener's writer waits for none of them for long.
    private const int ChunkRows = 5000;

    private readonly DlsStore _store;

    public UsageRetention(DlsStore store)
    {
        _store = store;
    }

    public int GetRetentionDays() => _store.Read(connection => ReadRetentionDays(connection, null));

    /// <summary>The retention in days, read on the caller's connection.</summary>
    public static int ReadRetentionDays(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT value FROM usage_setting WHERE name = 'raw_retention_days';";
        return command.ExecuteScalar() is string text ? int.Parse(text, CultureInfo.InvariantCulture) : DefaultDays;
    }

    /// <summary>Sets how many days raw records are kept (at least 1; the roll-ups are kept regardless).</summary>
    public void SetRetentionDays(int days, DateTimeOffset now)
    {
        if (days < 1 || days > 36500)
        {
            throw new DlsException(ErrorIds.UsageRetentionInvalid, DlsErrorKind.InvalidArgument,
                $"The raw-record retention must be between 1 and 36500 days; {days} was given.", days);
        }

        _store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO usage_setting (name, value) VALUES ('raw_retention_days', $days)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value;
                """;
            command.Parameters.AddWithValue("$days", days.ToString(CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
            Audit.AuditLog.Write(connection, transaction, now, "Usage.SetRetention", "usage", $"raw_retention_days = {days}");
        });
    }

    /// <summary>
    /// Removes the raw facts (and per-device slice/hour rows), lapsed seats and ended grants older than the retention period before
    /// <paramref name="now"/>. Cuts at a UTC day boundary so that no day is left half purged. Safe to run at any time
    /// and repeatedly (the listener runs it daily).
    /// </summary>
    public UsagePurgeResult Purge(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var cutoff = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-GetRetentionDays());
        var cutoffText = Timestamps.Format(cutoff);
        var cutoffSeconds = UsagePeriods.ToSeconds(cutoff);

        var usage = DeleteInChunks(
            "DELETE FROM usage_record WHERE id IN (SELECT id FROM usage_record WHERE slice < $cutoff LIMIT " + ChunkRows + ");", cutoffText, cancellationToken);
        var auth = DeleteInChunks(
            "DELETE FROM auth_event WHERE id IN (SELECT id FROM auth_event WHERE time < $cutoff LIMIT " + ChunkRows + ");", cutoffText, cancellationToken);
        long devices = 0;
        foreach (var grain in new[] { UsageGrain.Slice, UsageGrain.Hour })
        {
            devices += DeleteInChunks($"""
                DELETE FROM usage_device WHERE (grain, period, handshake_code, item_id, client_id) IN (
                    SELECT grain, period, handshake_code, item_id, client_id FROM usage_device
                    WHERE grain = {(int)grain} AND period < $cutoff LIMIT {ChunkRows});
                """, cutoffSeconds, cancellationToken);
            devices += DeleteInChunks($"""
                DELETE FROM usage_seen WHERE (level, grain, period, handshake_code, item_id, client_id) IN (
                    SELECT level, grain, period, handshake_code, item_id, client_id FROM usage_seen
                    WHERE level IN (1, 2) AND grain = {(int)grain} AND period < $cutoff LIMIT {ChunkRows});
                """, cutoffSeconds, cancellationToken);
        }

        // The level list lets the primary key (level, period, ...) find the periods.
        devices += DeleteInChunks($"""
            DELETE FROM usage_instance_seen WHERE (level, period, handshake_code, item_id, client_id, instance_id) IN (
                SELECT level, period, handshake_code, item_id, client_id, instance_id FROM usage_instance_seen
                WHERE level IN (0, 1, 2) AND period < $cutoff LIMIT {ChunkRows});
            """, cutoffSeconds, cancellationToken);
        // Devices that no longer hold anything: seats that lapsed and grants that ended before the cutoff. What an
        // unknown client can make the listener write is bounded by the rate limits; this bounds how long it stays.
        devices += DeleteInChunks(
            "DELETE FROM seat WHERE (item_id, seat_key) IN (SELECT item_id, seat_key FROM seat WHERE active_until < $cutoff LIMIT " + ChunkRows + ");",
            cutoffText, cancellationToken);
        devices += DeleteInChunks(
            "DELETE FROM client_grant WHERE (client_uuid, handshake_code, item_id) IN (SELECT client_uuid, handshake_code, item_id FROM client_grant WHERE cache_until < $cutoff LIMIT " + ChunkRows + ");",
            cutoffText, cancellationToken);
        return new UsagePurgeResult(cutoff, usage, auth, devices);
    }

    private long DeleteInChunks(string sql, object cutoff, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var deleted = _store.Write((connection, transaction) =>
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = sql;
                command.Parameters.AddWithValue("$cutoff", cutoff);
                return command.ExecuteNonQuery();
            });
            total += deleted;
            if (deleted < ChunkRows)
            {
                return total;
            }
        }
    }
}
