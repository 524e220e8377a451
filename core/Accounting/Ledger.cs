using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Accounting;

/// <summary>Who asks for a seat, in the terms the modes count.</summary>
/// <param name="RegistrableDomain">The request's domain folded by <see cref="Accounting.RegistrableDomain"/>, or null.</param>
public sealed record SeatClaim(string ClientUuid, string? RegistrableDomain, string InstanceId, int InstanceCount);

/// <summary>A seat taken or kept: until when it holds without further contact, and a warning when in tolerance.</summary>
public sealed record SeatResult(DateTimeOffset? HeldUntil, string? Warning, ProtocolError? Error)
{
    public static SeatResult Refuse(int code, string message) => new(null, null, new ProtocolError(code, message));
}

/// <summary>
/// The accounting of SPEC §3: who takes a seat and what a report counts, as <see cref="LicenseModeRules"/> says for
/// each mode (and through <see cref="QuotaMeter"/> what "used" means). Every method works inside the caller's transaction;
/// the listener calls them from its single writer, so two requests never decide on the same count.
/// </summary>
public static class Ledger
{
    /// <summary>Whether the mode's use is counted in concurrent slices (its devices hold no lasting seat).</summary>
    public static bool IsConcurrentMode(LicenseMode mode) => LicenseModeRules.For(mode).Basis == QuotaBasis.Concurrent;

    /// <summary>The key a seat of this item is held under for this claim (the device, or the domain).</summary>
    public static string? SeatKey(LicenseItem item, SeatClaim claim) =>
        LicenseModeRules.For(item.Mode).Key == SeatKeyKind.Domain ? claim.RegistrableDomain : claim.ClientUuid;

    /// <summary>Whether the claim already holds an active seat on the item (such an item is preferred: no second seat is taken).</summary>
    public static bool HoldsActiveSeat(SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, SeatClaim claim, DateTimeOffset now)
    {
        if (LicenseModeRules.For(item.Mode).Basis != QuotaBasis.Seats || SeatKey(item, claim) is not { } key)
        {
            return false;
        }

        var command = Command(connection, transaction, "SELECT EXISTS (SELECT 1 FROM seat WHERE item_id = $item AND seat_key = $key AND active_until > $now);");
        command.Parameters.AddWithValue("$item", item.ItemId);
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        return Convert.ToInt64(command.ExecuteScalar()) == 1;
    }

    /// <summary>
    /// Decides whether the item can serve the claim now (its dates and revocation are checked by the caller)
    /// and, for seat modes, takes or refreshes the seat.
    /// </summary>
    /// <param name="seats">The writer's running count of active seats, or null to count them now.</param>
    public static SeatResult TryTake(
        SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, SeatClaim claim, DateTimeOffset now, ActiveSeatCounter? seats = null)
    {
        var rules = LicenseModeRules.For(item.Mode);
        if (rules.Basis == QuotaBasis.Seats)
        {
            return TakeSeat(connection, transaction, item, rules, claim, now, seats);
        }

        var tolerance = rules.Tolerance(item.Quantity);
        if (rules.Basis == QuotaBasis.Count)
        {
            var counted = Counter(connection, transaction, item.ItemId).Counted;
            return rules.IsUsedUp(counted, item.Quantity)
                ? SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: the {rules.Unit} quota is used up ({counted} counted of {item.Quantity} + {tolerance} tolerance).")
                : new SeatResult(item.GraceEndsAt, counted >= item.Quantity ? $"Item {item.ItemId} is over its quantity ({counted} of {item.Quantity} {rules.Unit}); the tolerance is in use." : null, null);
        }

        // Concurrent modes: an authorization takes nothing; reports count. Once the tolerance of extra
        // device/instance-slices is used up, a client is refused while quantity others are active.
        var requested = rules.Key == SeatKeyKind.Instance ? claim.InstanceCount : 1;
        if (requested > item.Quantity)
        {
            return SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: a server may run at most {item.Quantity} {rules.Units}; {requested} were requested.");
        }

        var overage = Counter(connection, transaction, item.ItemId).Overage;
        if (overage >= tolerance)
        {
            var slice = TimeSlice.StartOf(now);
            var command = Command(connection, transaction, """
                SELECT count(DISTINCT seat_key) FROM concurrent_slot
                WHERE item_id = $item AND slice IN ($current, $previous) AND client_uuid <> $client;
                """);
            command.Parameters.AddWithValue("$item", item.ItemId);
            command.Parameters.AddWithValue("$current", Timestamps.Format(slice));
            command.Parameters.AddWithValue("$previous", Timestamps.Format(slice - TimeSlice.Length));
            command.Parameters.AddWithValue("$client", claim.ClientUuid);
            var others = Convert.ToInt64(command.ExecuteScalar());
            if (others + requested > item.Quantity)
            {
                return SeatResult.Refuse(rules.UsedUpError,
                    $"Item {item.ItemId}: {others} {rules.Units} of other clients are active and the tolerance of {tolerance} extra {rules.Unit}-slices is used up.");
            }
        }

        return new SeatResult(item.GraceEndsAt, null, null);
    }

    /// <summary>
    /// What a report's accepted records count (statistics are recorded by the caller): scans and pages are added up
    /// per item and written once, a device item's seat is refreshed once, concurrent items count record by record.
    /// </summary>
    public static void Count(
        SqliteConnection connection, SqliteTransaction transaction, IReadOnlyDictionary<string, LicenseItem> items, string clientUuid,
        IEnumerable<UsageRecord> records, DateTimeOffset now)
    {
        var counted = new Dictionary<string, long>(StringComparer.Ordinal);
        var refreshed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            var item = items[record.ItemId];
            var rules = LicenseModeRules.For(item.Mode);
            if (rules.Basis == QuotaBasis.Count)
            {
                if (record.Count > 0)
                {
                    counted[item.ItemId] = counted.GetValueOrDefault(item.ItemId) + record.Count;
                }
            }
            else if (rules.Basis == QuotaBasis.Concurrent)
            {
                CountConcurrent(connection, transaction, item, rules, clientUuid, record);
            }
            else if (rules.ReportsRefreshSeats && refreshed.Add(item.ItemId))
            {
                Refresh(connection, transaction, item, clientUuid, now);
            }
        }

        foreach (var (itemId, count) in counted)
        {
            var command = Command(connection, transaction, """
                INSERT INTO item_counter (item_id, counted, overage) VALUES ($item, $count, 0)
                ON CONFLICT (item_id) DO UPDATE SET counted = counted + excluded.counted;
                """);
            command.Parameters.AddWithValue("$item", itemId);
            command.Parameters.AddWithValue("$count", count);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>The running totals of an item: counted scans/pages, extra slices used from the concurrent tolerance.</summary>
    public static (long Counted, long Overage) Counter(SqliteConnection connection, SqliteTransaction? transaction, string itemId)
    {
        var command = Command(connection, transaction, "SELECT counted, overage FROM item_counter WHERE item_id = $item;");
        command.Parameters.AddWithValue("$item", itemId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    /// <summary>When a seat taken or refreshed now lapses: after the mode's window, and never after the item's last usable moment.</summary>
    public static DateTimeOffset SeatHorizon(LicenseItem item, DateTimeOffset now)
    {
        var until = now + LicenseModeRules.For(item.Mode).ActiveWindow;
        return until < item.GraceEndsAt ? until : item.GraceEndsAt;
    }

    private static SeatResult TakeSeat(
        SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, LicenseModeRules rules, SeatClaim claim, DateTimeOffset now, ActiveSeatCounter? seats)
    {
        var domains = rules.Key == SeatKeyKind.Domain;
        if (SeatKey(item, claim) is not { } key)
        {
            return SeatResult.Refuse(ErrorCodes.NotAllowed, $"Item {item.ItemId} is licensed per domain; the request names no domain.");
        }

        var horizon = SeatHorizon(item, now);
        if (!HoldsActiveSeat(connection, transaction, item, claim, now))
        {
            var tolerance = rules.Tolerance(item.Quantity);
            var active = seats?.Active(connection, transaction, item.ItemId, now) ?? ActiveSeats(connection, transaction, item.ItemId, now);
            if (rules.IsUsedUp(active, item.Quantity))
            {
                return domains
                    ? SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: the domain quota is used up ({active} of {item.Quantity} domains); '{key}' is not one of them.")
                    : SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: the {rules.Unit} quota is used up ({active} active of {item.Quantity} + {tolerance} tolerance).");
            }

            var insert = Command(connection, transaction, """
                INSERT INTO seat (item_id, seat_key, kind, client_uuid, first_seen, last_seen, active_until)
                VALUES ($item, $key, $kind, $client, $now, $now, $until)
                ON CONFLICT (item_id, seat_key) DO UPDATE SET client_uuid = excluded.client_uuid,
                    last_seen = excluded.last_seen, active_until = excluded.active_until;
                """);
            insert.Parameters.AddWithValue("$item", item.ItemId);
            insert.Parameters.AddWithValue("$key", key);
            insert.Parameters.AddWithValue("$kind", domains ? "domain" : "device");
            insert.Parameters.AddWithValue("$client", claim.ClientUuid);
            insert.Parameters.AddWithValue("$now", Timestamps.Format(now));
            insert.Parameters.AddWithValue("$until", Timestamps.Format(horizon));
            insert.ExecuteNonQuery();
            seats?.Taken(item.ItemId, horizon);
            var warning = active + 1 > item.Quantity
                ? $"Item {item.ItemId} is over its quantity ({active + 1} of {item.Quantity}); the tolerance is in use."
                : null;
            return new SeatResult(horizon, warning, null);
        }

        var refresh = Command(connection, transaction,
            "UPDATE seat SET last_seen = $now, active_until = $until, client_uuid = $client WHERE item_id = $item AND seat_key = $key;");
        refresh.Parameters.AddWithValue("$item", item.ItemId);
        refresh.Parameters.AddWithValue("$key", key);
        refresh.Parameters.AddWithValue("$client", claim.ClientUuid);
        refresh.Parameters.AddWithValue("$now", Timestamps.Format(now));
        refresh.Parameters.AddWithValue("$until", Timestamps.Format(horizon));
        refresh.ExecuteNonQuery();
        return new SeatResult(horizon, null, null);
    }

    internal static long ActiveSeats(SqliteConnection connection, SqliteTransaction? transaction, string itemId, DateTimeOffset now)
    {
        var command = Command(connection, transaction, "SELECT count(*) FROM seat WHERE item_id = $item AND active_until > $now;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>The active seats of an item and the earliest moment one of them lapses (null when none is active).</summary>
    internal static (long Active, DateTimeOffset? NextLapse) ActiveSeatsAndNextLapse(SqliteConnection connection, SqliteTransaction? transaction, string itemId, DateTimeOffset now)
    {
        var command = Command(connection, transaction, "SELECT count(*), min(active_until) FROM seat WHERE item_id = $item AND active_until > $now;");
        command.Parameters.AddWithValue("$item", itemId);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : Timestamps.Parse(reader.GetString(1)));
    }

    /// <summary>A report is a contact: it keeps an active device seat alive (a lapsed one is not revived by a report).</summary>
    private static void Refresh(SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, string clientUuid, DateTimeOffset now)
    {
        var command = Command(connection, transaction,
            "UPDATE seat SET last_seen = $now, active_until = $until WHERE item_id = $item AND seat_key = $key AND active_until > $now AND last_seen < $now;");
        command.Parameters.AddWithValue("$item", item.ItemId);
        command.Parameters.AddWithValue("$key", clientUuid);
        command.Parameters.AddWithValue("$now", Timestamps.Format(now));
        command.Parameters.AddWithValue("$until", Timestamps.Format(SeatHorizon(item, now)));
        command.ExecuteNonQuery();
    }

    private static void CountConcurrent(SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, LicenseModeRules rules, string clientUuid, UsageRecord record)
    {
        var key = rules.Key == SeatKeyKind.Instance ? $"{clientUuid}/{record.InstanceId}" : clientUuid;
        var slice = Timestamps.Format(TimeSlice.StartOf(record.Slice));
        var insert = Command(connection, transaction,
            "INSERT INTO concurrent_slot (item_id, slice, seat_key, client_uuid) VALUES ($item, $slice, $key, $client) ON CONFLICT DO NOTHING;");
        insert.Parameters.AddWithValue("$item", item.ItemId);
        insert.Parameters.AddWithValue("$slice", slice);
        insert.Parameters.AddWithValue("$key", key);
        insert.Parameters.AddWithValue("$client", clientUuid);
        if (insert.ExecuteNonQuery() == 0)
        {
            return;
        }

        var bump = Command(connection, transaction, """
            INSERT INTO concurrent_slice (item_id, slice, active) VALUES ($item, $slice, 1)
            ON CONFLICT (item_id, slice) DO UPDATE SET active = active + 1
            RETURNING active;
            """);
        bump.Parameters.AddWithValue("$item", item.ItemId);
        bump.Parameters.AddWithValue("$slice", slice);
        var active = Convert.ToInt64(bump.ExecuteScalar());
        if (active > item.Quantity)
        {
            var overage = Command(connection, transaction, """
                INSERT INTO item_counter (item_id, counted, overage) VALUES ($item, 0, 1)
                ON CONFLICT (item_id) DO UPDATE SET overage = overage + 1;
                """);
            overage.Parameters.AddWithValue("$item", item.ItemId);
            overage.ExecuteNonQuery();
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        return StatementCache.Get(connection, transaction, sql);
    }
}
