using System.Globalization;
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
/// slots of the last two slices. Every read is an index seek per item and device (migration 80), not a scan of the
/// usage history. docs/usage.md ("Devices") says how retention bounds what is listed.
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
            command.CommandText = """
                SELECT client_uuid, min(first_granted), max(cache_until), group_concat(handshake_code, char(10)) FROM client_grant
                WHERE item_id = $item AND ($client IS NULL OR client_uuid = $client) AND ($code IS NULL OR handshake_code = $code)
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

        using var contacts = new LastContact(connection, transaction, item.ItemId, handshakeCode);
        return grants
            .Select(grant =>
            {
                var last = contacts.Find(grant.Client, grant.Codes) ?? TimeSlice.StartOf(grant.First);
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
    /// A device's last contact with an item (a granted authorization or a report), to the slice: its latest hour row
    /// with such a contact (day rows once the hour rows are purged), found through the item-and-device index of
    /// migration 80, then that hour's slice rows looked up by key (20 slices × the codes it was granted through).
    /// </summary>
    private sealed class LastContact : IDisposable
    {
        private const string Contact = "(reports > 0 OR authorizations > failed_authorizations)";
        private readonly SqliteCommand _period;
        private readonly SqliteConnection _connection;
        private readonly SqliteTransaction _transaction;
        private readonly string _item;

        public LastContact(SqliteConnection connection, SqliteTransaction transaction, string item, string? code)
        {
            _connection = connection;
            _transaction = transaction;
            _item = item;
            _period = connection.CreateCommand();
            _period.Transaction = transaction;
            // "grain > 0" as written in the partial index's WHERE, so that the planner may use it.
            _period.CommandText = $"""
                SELECT period FROM usage_device INDEXED BY usage_device_item_client
                WHERE item_id = $item AND client_id = (SELECT id FROM usage_client WHERE client_uuid = $client) AND grain > 0 AND grain = $grain
                  AND ($code IS NULL OR handshake_code = $code) AND {Contact}
                ORDER BY period DESC LIMIT 1;
                """;
            _period.Parameters.AddWithValue("$item", item);
            _period.Parameters.AddWithValue("$code", (object?)code ?? DBNull.Value);
            _period.Parameters.Add("$client", SqliteType.Text);
            _period.Parameters.Add("$grain", SqliteType.Integer);
        }

        public void Dispose() => _period.Dispose();

        public DateTimeOffset? Find(string client, IReadOnlyList<string> codes)
        {
            _period.Parameters["$client"].Value = client;
            _period.Parameters["$grain"].Value = (int)UsageGrain.Hour;
            if (_period.ExecuteScalar() is long hour)
            {
                return LastSlice(client, codes, hour) ?? DateTimeOffset.FromUnixTimeSeconds(hour);
            }

            _period.Parameters["$grain"].Value = (int)UsageGrain.Day;
            return _period.ExecuteScalar() is long day ? DateTimeOffset.FromUnixTimeSeconds(day) : null;
        }

        private DateTimeOffset? LastSlice(string client, IReadOnlyList<string> codes, long hour)
        {
            var slices = (int)(TimeSpan.FromHours(1) / TimeSlice.Length);
            var seconds = (long)TimeSlice.Length.TotalSeconds;
            using var command = _connection.CreateCommand();
            command.Transaction = _transaction;
            var periods = string.Join(", ", Enumerable.Range(0, slices).Select(i => (hour + (i * seconds)).ToString(CultureInfo.InvariantCulture)));
            var codeList = string.Join(", ", codes.Select((_, i) => $"$code{i}"));
            command.CommandText = $"""
                SELECT max(period) FROM usage_device
                WHERE grain = 0 AND period IN ({periods}) AND handshake_code IN ({codeList}) AND item_id = $item
                  AND client_id = (SELECT id FROM usage_client WHERE client_uuid = $client) AND {Contact};
                """;
            for (var i = 0; i < codes.Count; i++)
            {
                command.Parameters.AddWithValue($"$code{i}", codes[i]);
            }

            command.Parameters.AddWithValue("$item", _item);
            command.Parameters.AddWithValue("$client", client);
            return command.ExecuteScalar() is long slice ? DateTimeOffset.FromUnixTimeSeconds(slice) : null;
        }
    }
}
