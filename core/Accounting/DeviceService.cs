using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Accounting;

/// <summary>
/// A device (or, for per-domain items, a domain) as an item's accounting knows it (SPEC §5 Get-DlsDevice).
/// </summary>
/// <param name="FirstSeen">Per-device, per-server and per-domain items: when the seat was first taken. Count and concurrent
/// items: the device's first granted authorization for the item.</param>
/// <param name="LastSeen">Seat items: its last authorization or report. Count and concurrent items: the start of the last
/// 3-minute slice in which it was granted an authorization or reported usage.</param>
/// <param name="ActiveUntil">When its seat lapses (or lapsed) without further contact; for a concurrent item, while it holds a
/// seat (it reported in the current or the previous slice), the end of the next slice; empty where no seat is held.</param>
/// <param name="GrantedUntil">Count and concurrent items: until when its latest authorization lets it work (the grant's
/// cacheUntil, rounded up to the hour); empty for seat items.</param>
/// <param name="HoldsSeat">It counts against the item's quantity now (seat and concurrent items).</param>
/// <param name="IsActive">What <c>-Active</c> selects: it holds a seat now or, on a count item, its grant is current.</param>
public sealed record DeviceInfo(
    string ClientUuid,
    string ItemId,
    LicenseMode Mode,
    string? Domain,
    DateTime FirstSeen,
    DateTime LastSeen,
    DateTime? ActiveUntil,
    DateTime? GrantedUntil,
    bool HoldsSeat,
    bool IsActive);

/// <summary>
/// Lists the devices of license items in every mode, and frees seats (Get-/Remove-DlsDevice). Seat items (per device,
/// per server, per domain) read their seats. Count and concurrent items hold no seat per device: their devices are the
/// ones granted an authorization (<c>client_grant</c>; a report counts only with a grant, so every device that reported
/// has one), their last contact comes from the per-device usage rows, and a concurrent item's held seats from its
/// slots of the last two slices. Every read is an index seek by item (migration 80) or a primary-key probe per device,
/// never a scan of the usage history. docs/usage.md ("Devices") says how retention bounds what is listed.
/// </summary>
public sealed class DeviceService(DlsStore store, TimeProvider time)
{
    /// <summary>
    /// The devices of the items in scope: the items of <paramref name="handshakeCode"/> (for count and concurrent items,
    /// only the devices authorized through that code), or <paramref name="itemId"/>, or every item; one device or
    /// domain with <paramref name="clientUuid"/>; with <paramref name="activeOnly"/>, those whose
    /// <see cref="DeviceInfo.IsActive"/> is true.
    /// </summary>
    public IReadOnlyList<DeviceInfo> List(string? handshakeCode, string? itemId, string? clientUuid, bool activeOnly)
    {
        var now = time.GetUtcNow();
        return store.Read(connection =>
        {
            // One snapshot for every item: the listener keeps writing meanwhile.
            using var transaction = connection.BeginTransaction(deferred: true);
            var devices = new List<DeviceInfo>();
            foreach (var item in ItemsInScope(connection, transaction, handshakeCode, itemId))
            {
                devices.AddRange(IsSeats(item.Mode)
                    ? Seats(connection, transaction, item, clientUuid, now)
                    : Grantees(connection, transaction, item, handshakeCode, clientUuid, now));
            }

            return activeOnly ? devices.Where(d => d.IsActive).ToList() : devices;
        });
    }

    /// <summary>
    /// Frees the seats a device (or domain) holds, on one item or all: its next authorization takes a new
    /// seat if one is free. Returns what was removed; <c>DeviceNotFound</c> when nothing matched, <c>ItemHasNoSeats</c>
    /// for a count or concurrent item (nothing to free: a concurrent seat frees itself two slices after the last report).
    /// </summary>
    public IReadOnlyList<DeviceInfo> Remove(string clientUuid, string? itemId)
    {
        if (itemId is not null && store.Read(connection => LicenseCatalog.FindItem(connection, null, itemId)) is { } item && !IsSeats(item.Mode))
        {
            throw new DlsException(
                ErrorIds.ItemHasNoSeats,
                DlsErrorKind.InvalidOperation,
                Ledger.IsConcurrentMode(item.Mode)
                    ? $"Item '{itemId}' is {item.Mode}: it keeps no seat to free; a device stops counting two 3-minute slices after its last report."
                    : $"Item '{itemId}' is {item.Mode}: it counts {LicenseModeRules.For(item.Mode).Units}, not devices, so there is no seat to free.",
                itemId);
        }

        var removed = List(null, itemId, clientUuid, activeOnly: false).Where(d => IsSeats(d.Mode)).ToList();
        if (removed.Count == 0)
        {
            throw new DlsException(
                ErrorIds.DeviceNotFound,
                DlsErrorKind.NotFound,
                itemId is null ? $"No seat is held by '{clientUuid}'." : $"No seat of item '{itemId}' is held by '{clientUuid}'.",
                clientUuid);
        }

        store.Write((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM seat WHERE (client_uuid = $client OR seat_key = $client) AND ($item IS NULL OR item_id = $item);";
            command.Parameters.AddWithValue("$client", clientUuid);
            command.Parameters.AddWithValue("$item", (object?)itemId ?? DBNull.Value);
            command.ExecuteNonQuery();
            foreach (var device in removed)
            {
                AuditLog.Write(connection, transaction, time.GetUtcNow(), "Device.Remove", $"{device.ItemId}/{device.Domain ?? device.ClientUuid}",
                    $"lastSeen={Timestamps.Format(device.LastSeen)}, activeUntil={(device.ActiveUntil is { } until ? Timestamps.Format(until) : string.Empty)}");
            }
        });
        return removed;
    }

    private static bool IsSeats(LicenseMode mode) => LicenseModeRules.For(mode).Basis == QuotaBasis.Seats;

    private static IEnumerable<DeviceInfo> Seats(SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, string? clientUuid, DateTimeOffset now)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT seat_key, kind, client_uuid, first_seen, last_seen, active_until FROM seat
            WHERE item_id = $item AND ($client IS NULL OR client_uuid = $client OR seat_key = $client)
            ORDER BY last_seen DESC;
            """;
        command.Parameters.AddWithValue("$item", item.ItemId);
        command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var seats = new List<DeviceInfo>();
        while (reader.Read())
        {
            var activeUntil = Timestamps.Parse(reader.GetString(5));
            var holds = activeUntil > now;
            seats.Add(new DeviceInfo(
                reader.GetString(2),
                item.ItemId,
                item.Mode,
                reader.GetString(1) == "domain" ? reader.GetString(0) : null,
                Timestamps.Parse(reader.GetString(3)).UtcDateTime,
                Timestamps.Parse(reader.GetString(4)).UtcDateTime,
                activeUntil.UtcDateTime,
                null,
                holds,
                holds));
        }

        return seats;
    }

    /// <summary>The devices granted an authorization for a count or concurrent item (through one code, or any).</summary>
    private static IEnumerable<DeviceInfo> Grantees(
        SqliteConnection connection, SqliteTransaction transaction, LicenseItem item, string? handshakeCode, string? clientUuid, DateTimeOffset now)
    {
        var grants = new List<(string Client, DateTimeOffset First, DateTimeOffset Until, string[] Codes)>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            // Only the filters given, so that the planner seeks the device in the index when one is asked for.
            command.CommandText = $"""
                SELECT client_uuid, min(first_granted), max(cache_until), group_concat(handshake_code, char(10)) FROM client_grant
                WHERE item_id = $item{(clientUuid is null ? string.Empty : " AND client_uuid = $client")}{(handshakeCode is null ? string.Empty : " AND handshake_code = $code")}
                GROUP BY client_uuid;
                """;
            command.Parameters.AddWithValue("$item", item.ItemId);
            command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
            command.Parameters.AddWithValue("$code", (object?)handshakeCode ?? DBNull.Value);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                grants.Add((reader.GetString(0), Timestamps.Parse(reader.GetString(1)), Timestamps.Parse(reader.GetString(2)), reader.GetString(3).Split('\n')));
            }
        }

        // A concurrent item's seat is held while the device reported in the current or the previous slice (SPEC §3).
        var held = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        if (Ledger.IsConcurrentMode(item.Mode))
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT client_uuid, max(slice) FROM concurrent_slot WHERE item_id = $item AND slice >= $since GROUP BY client_uuid;";
            command.Parameters.AddWithValue("$item", item.ItemId);
            command.Parameters.AddWithValue("$since", Timestamps.Format(TimeSlice.StartOf(now) - TimeSlice.Length));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                held[reader.GetString(0)] = Timestamps.Parse(reader.GetString(1)) + (TimeSlice.Length * 2);
            }
        }

        using var contacts = new LastContact(connection, transaction, item.ItemId);
        return grants
            .Select(grant =>
            {
                var last = contacts.Find(grant.Client, grant.Codes, grant.First, now) ?? TimeSlice.StartOf(grant.First);
                DateTimeOffset? activeUntil = held.TryGetValue(grant.Client, out var until) && until > now ? until : null;
                var holds = activeUntil is not null;
                return new DeviceInfo(
                    grant.Client,
                    item.ItemId,
                    item.Mode,
                    null,
                    grant.First.UtcDateTime,
                    last.UtcDateTime,
                    activeUntil?.UtcDateTime,
                    grant.Until.UtcDateTime,
                    holds,
                    LicenseModeRules.For(item.Mode).Basis == QuotaBasis.Count ? grant.Until > now : holds);
            })
            .OrderByDescending(d => d.LastSeen)
            .ThenBy(d => d.ClientUuid, StringComparer.Ordinal)
            .ToList();
    }

    private static IEnumerable<LicenseItem> ItemsInScope(SqliteConnection connection, SqliteTransaction transaction, string? handshakeCode, string? itemId)
    {
        IEnumerable<LicenseItem> items;
        if (handshakeCode is not null)
        {
            if (LicenseCatalog.FindCode(connection, transaction, handshakeCode) is null)
            {
                throw new DlsException(ErrorIds.HandshakeCodeNotFound, DlsErrorKind.NotFound, $"There is no handshake code '{handshakeCode}'.", handshakeCode);
            }

            items = LicenseCatalog.ItemsOfCode(connection, transaction, handshakeCode);
        }
        else
        {
            items = LicenseCatalog.AllItems(connection, transaction);
        }

        if (itemId is not null)
        {
            items = items.Where(i => i.ItemId == itemId).ToList();
            if (!items.Any() && LicenseCatalog.FindItem(connection, transaction, itemId) is null)
            {
                throw new DlsException(ErrorIds.LicenseItemNotFound, DlsErrorKind.NotFound, $"There is no license item '{itemId}'.", itemId);
            }
        }

        return items.OrderBy(i => i.ItemId, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// A device's last contact with an item (a granted authorization or a report), to the slice, from the per-device
    /// usage rows and their primary key alone (nothing is added to the listener's writes): the newest month with such
    /// a contact between the first grant and now, then its newest day, hour and slice inside it, each found in one
    /// statement that looks the candidate periods up by the full primary key (months are probed one by one: a device
    /// silent for months costs a probe per month). Where the finer rows are purged, the start of the finest period
    /// still known. The statements are prepared once per item and reused for each of its devices.
    /// </summary>
    private sealed class LastContact : IDisposable
    {
        private readonly SqliteCommand _client;
        private readonly SqliteCommand _probe;
        private readonly SqliteCommand _newest;

        public LastContact(SqliteConnection connection, SqliteTransaction transaction, string item)
        {
            _client = connection.CreateCommand();
            _client.Transaction = transaction;
            _client.CommandText = "SELECT id FROM usage_client WHERE client_uuid = $client;";
            _client.Parameters.Add("$client", SqliteType.Text);

            // One month.
            _probe = Probe(connection, transaction, item, """
                SELECT EXISTS (SELECT 1 FROM usage_device
                    WHERE grain = $grain AND period = $top AND handshake_code = $code AND item_id = $item AND client_id = $id
                      AND (reports > 0 OR authorizations > failed_authorizations));
                """);

            // The newest of the slices, hours or days from $top down to $bottom: the candidate periods are generated and
            // each looked up by the full primary key, in one statement (CROSS JOIN keeps the candidates the outer loop).
            _newest = Probe(connection, transaction, item, """
                WITH RECURSIVE candidate (period) AS (
                    SELECT $top UNION ALL SELECT period - $step FROM candidate WHERE period - $step >= $bottom)
                SELECT max(d.period) FROM candidate c CROSS JOIN usage_device d
                    ON d.grain = $grain AND d.period = c.period AND d.handshake_code = $code AND d.item_id = $item AND d.client_id = $id
                WHERE d.reports > 0 OR d.authorizations > d.failed_authorizations;
                """);
            _newest.Parameters.Add("$bottom", SqliteType.Integer);
            _newest.Parameters.Add("$step", SqliteType.Integer);
        }

        public void Dispose()
        {
            _client.Dispose();
            _probe.Dispose();
            _newest.Dispose();
        }

        /// <summary>The start of the newest slice (or coarser period) with a contact through one of <paramref name="codes"/>.</summary>
        public DateTimeOffset? Find(string client, IReadOnlyList<string> codes, DateTimeOffset since, DateTimeOffset now)
        {
            _client.Parameters["$client"].Value = client;
            if (_client.ExecuteScalar() is not long id)
            {
                return null;
            }

            _probe.Parameters["$id"].Value = id;
            _newest.Parameters["$id"].Value = id;
            long? last = null;
            foreach (var code in codes)
            {
                _probe.Parameters["$code"].Value = code;
                _newest.Parameters["$code"].Value = code;
                if (Descend(UsagePeriods.ToSeconds(since), UsagePeriods.ToSeconds(now)) is { } found && (last is null || found > last))
                {
                    last = found;
                }
            }

            return last is { } seconds ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        }

        private long? Descend(long lo, long hi)
        {
            long? found = null;
            var top = UsagePeriods.Floor(UsageGrain.Month, hi);
            var bottom = UsagePeriods.Floor(UsageGrain.Month, lo);
            for (var grain = UsageGrain.Month; ; grain--)
            {
                var hit = Newest(grain, top, bottom);
                if (hit is not { } start)
                {
                    return found;
                }

                found = start;
                if (grain == UsageGrain.Slice)
                {
                    return found;
                }

                // The finer periods inside the one found, within [lo, hi].
                top = UsagePeriods.Floor(grain - 1, Math.Min(hi, UsagePeriods.Next(grain, start) - 1));
                bottom = UsagePeriods.Floor(grain - 1, Math.Max(lo, start));
            }
        }

        private long? Newest(UsageGrain grain, long top, long bottom)
        {
            if (grain == UsageGrain.Month)
            {
                // Months are not of one length; a device is rarely silent for more than one or two of them.
                for (var period = top; period >= bottom; period = UsagePeriods.Floor(UsageGrain.Month, period - 1))
                {
                    _probe.Parameters["$grain"].Value = (int)grain;
                    _probe.Parameters["$top"].Value = period;
                    if ((long)_probe.ExecuteScalar()! == 1)
                    {
                        return period;
                    }
                }

                return null;
            }

            if (top < bottom)
            {
                return null;
            }

            _newest.Parameters["$grain"].Value = (int)grain;
            _newest.Parameters["$top"].Value = top;
            _newest.Parameters["$bottom"].Value = bottom;
            _newest.Parameters["$step"].Value = UsagePeriods.Next(grain, 0);
            return _newest.ExecuteScalar() is long found ? found : null;
        }

        private static SqliteCommand Probe(SqliteConnection connection, SqliteTransaction transaction, string item, string sql)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            command.Parameters.Add("$grain", SqliteType.Integer);
            command.Parameters.Add("$top", SqliteType.Integer);
            command.Parameters.Add("$code", SqliteType.Text);
            command.Parameters.AddWithValue("$item", item);
            command.Parameters.Add("$id", SqliteType.Integer);
            return command;
        }
    }
}
