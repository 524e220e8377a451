using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Accounting;

/// <summary>
/// A device (or, for per-domain items, a domain) as an item's accounting knows it. <see cref="HoldsSeat"/>:
/// it counts against the item's quantity now.
/// </summary>
public sealed record DeviceInfo(
    string ClientUuid,
    string ItemId,
    LicenseMode Mode,
    string? Domain,
    DateTime FirstSeen,
    DateTime LastSeen,
    DateTime ActiveUntil,
    bool HoldsSeat);

/// <summary>Lists the devices holding or having held seats, and frees seats (Get-/Remove-DlsDevice).</summary>
public sealed class DeviceService(DlsStore store, TimeProvider time)
{
    /// <summary>
    /// Seats of per-device, per-server and per-domain items, and the devices or instances seen by concurrent
    /// items (while their slots are kept: 30 days), filtered by code (its items), item and device.
    /// </summary>
    public IReadOnlyList<DeviceInfo> List(string? handshakeCode, string? itemId, string? clientUuid, bool activeOnly)
    {
        var now = time.GetUtcNow();
        return store.Read(connection =>
        {
            var items = ItemsInScope(connection, handshakeCode, itemId).ToDictionary(i => i.ItemId);
            var devices = new List<DeviceInfo>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = """
                    SELECT item_id, seat_key, kind, client_uuid, first_seen, last_seen, active_until FROM seat
                    WHERE ($client IS NULL OR client_uuid = $client OR seat_key = $client)
                    ORDER BY item_id, last_seen DESC;
                    """;
                command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    if (!items.TryGetValue(reader.GetString(0), out var item))
                    {
                        continue;
                    }

                    var activeUntil = Timestamps.Parse(reader.GetString(6));
                    devices.Add(new DeviceInfo(
                        reader.GetString(3),
                        item.ItemId,
                        item.Mode,
                        reader.GetString(2) == "domain" ? reader.GetString(1) : null,
                        Timestamps.Parse(reader.GetString(4)).UtcDateTime,
                        Timestamps.Parse(reader.GetString(5)).UtcDateTime,
                        activeUntil.UtcDateTime,
                        activeUntil > now));
                }
            }

            // Concurrent items: a device holds a seat while it reported in the current or the previous slice.
            using (var command = connection.CreateCommand())
            {
                command.CommandText = """
                    SELECT item_id, client_uuid, min(slice), max(slice) FROM concurrent_slot
                    WHERE ($client IS NULL OR client_uuid = $client)
                    GROUP BY item_id, client_uuid ORDER BY item_id, max(slice) DESC;
                    """;
                command.Parameters.AddWithValue("$client", (object?)clientUuid ?? DBNull.Value);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    if (!items.TryGetValue(reader.GetString(0), out var item))
                    {
                        continue;
                    }

                    var last = Timestamps.Parse(reader.GetString(3));
                    var activeUntil = last + (TimeSlice.Length * 2);
                    devices.Add(new DeviceInfo(
                        reader.GetString(1),
                        item.ItemId,
                        item.Mode,
                        null,
                        Timestamps.Parse(reader.GetString(2)).UtcDateTime,
                        last.UtcDateTime,
                        activeUntil.UtcDateTime,
                        activeUntil > now));
                }
            }

            return activeOnly ? devices.Where(d => d.HoldsSeat).ToList() : devices;
        });
    }

    /// <summary>
    /// Frees the seats a device (or domain) holds, on one item or all: its next authorization takes a new
    /// seat if one is free. Returns what was removed; <c>DeviceNotFound</c> when nothing matched.
    /// </summary>
    public IReadOnlyList<DeviceInfo> Remove(string clientUuid, string? itemId)
    {
        var removed = List(null, itemId, clientUuid, activeOnly: false).Where(d => !Ledger.IsConcurrentMode(d.Mode)).ToList();
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
                    $"lastSeen={Timestamps.Format(device.LastSeen)}, activeUntil={Timestamps.Format(device.ActiveUntil)}");
            }
        });
        return removed;
    }

    private static IEnumerable<LicenseItem> ItemsInScope(SqliteConnection connection, string? handshakeCode, string? itemId)
    {
        IEnumerable<LicenseItem> items;
        if (handshakeCode is not null)
        {
            if (LicenseCatalog.FindCode(connection, null, handshakeCode) is null)
            {
                throw new DlsException(ErrorIds.HandshakeCodeNotFound, DlsErrorKind.NotFound, $"There is no handshake code '{handshakeCode}'.", handshakeCode);
            }

            items = LicenseCatalog.ItemsOfCode(connection, null, handshakeCode);
        }
        else
        {
            items = LicenseCatalog.AllItems(connection, null);
        }

        if (itemId is not null)
        {
            items = items.Where(i => i.ItemId == itemId).ToList();
            if (!items.Any() && LicenseCatalog.FindItem(connection, null, itemId) is null)
            {
                throw new DlsException(ErrorIds.LicenseItemNotFound, DlsErrorKind.NotFound, $"There is no license item '{itemId}'.", itemId);
            }
        }

        return items;
    }
}
