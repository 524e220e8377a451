using Dls.Core.Audit;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Storage;
using Dls.Core.Usage;

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
        // One snapshot for every item: the listener keeps writing meanwhile.
        return store.QuerySnapshot(work =>
        {
            var devices = new List<DeviceInfo>();
            foreach (var item in ItemsInScope(work, handshakeCode, itemId))
            {
                devices.AddRange(IsSeats(item.Mode)
                    ? Seats(work, item, clientUuid, now)
                    : Grantees(work, item, handshakeCode, clientUuid, now));
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
        if (itemId is not null && store.Query(work => LicenseCatalog.FindItem(work, itemId)) is { } item && !IsSeats(item.Mode))
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

        store.Write(work =>
        {
            work.Stores.Devices.RemoveSeats(work, clientUuid, itemId);
            foreach (var device in removed)
            {
                AuditLog.Write(work, time.GetUtcNow(), "Device.Remove", $"{device.ItemId}/{device.Domain ?? device.ClientUuid}",
                    $"lastSeen={Timestamps.Format(device.LastSeen)}, activeUntil={(device.ActiveUntil is { } until ? Timestamps.Format(until) : string.Empty)}");
            }
        });
        return removed;
    }

    private static bool IsSeats(LicenseMode mode) => LicenseModeRules.For(mode).Basis == QuotaBasis.Seats;

    private static IEnumerable<DeviceInfo> Seats(UnitOfWork work, LicenseItem item, string? clientUuid, DateTimeOffset now) =>
        work.Stores.Devices.Seats(work, item.ItemId, clientUuid)
            .Select(seat =>
            {
                var holds = seat.ActiveUntil > now;
                return new DeviceInfo(
                    seat.ClientUuid,
                    item.ItemId,
                    item.Mode,
                    seat.Kind == "domain" ? seat.SeatKey : null,
                    seat.FirstSeen.UtcDateTime,
                    seat.LastSeen.UtcDateTime,
                    seat.ActiveUntil.UtcDateTime,
                    null,
                    holds,
                    holds);
            })
            .ToList();

    /// <summary>The devices granted an authorization for a count or concurrent item (through one code, or any).</summary>
    private static IEnumerable<DeviceInfo> Grantees(
        UnitOfWork work, LicenseItem item, string? handshakeCode, string? clientUuid, DateTimeOffset now)
    {
        var grants = work.Stores.Devices.Grantees(work, item.ItemId, clientUuid, handshakeCode)
            .Select(g => (Client: g.ClientUuid, First: g.FirstGranted, Until: g.CacheUntil, g.Codes))
            .ToList();

        // A concurrent item's seat is held while the device reported in the current or the previous slice (SPEC §3).
        var held = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        if (Ledger.IsConcurrentMode(item.Mode))
        {
            foreach (var (client, slice) in work.Stores.Devices.NewestSlots(work, item.ItemId, TimeSlice.StartOf(now) - TimeSlice.Length))
            {
                held[client] = slice + (TimeSlice.Length * 2);
            }
        }

        var contacts = new LastContact(work, item.ItemId);
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

    private static IEnumerable<LicenseItem> ItemsInScope(UnitOfWork work, string? handshakeCode, string? itemId)
    {
        IEnumerable<LicenseItem> items;
        if (handshakeCode is not null)
        {
            if (LicenseCatalog.FindCode(work, handshakeCode) is null)
            {
                throw new DlsException(ErrorIds.HandshakeCodeNotFound, DlsErrorKind.NotFound, $"There is no handshake code '{handshakeCode}'.", handshakeCode);
            }

            items = LicenseCatalog.ItemsOfCode(work, handshakeCode);
        }
        else
        {
            items = LicenseCatalog.AllItems(work);
        }

        if (itemId is not null)
        {
            items = items.Where(i => i.ItemId == itemId).ToList();
            if (!items.Any() && LicenseCatalog.FindItem(work, itemId) is null)
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
    /// still known. The unit of work keeps the statements prepared, so they are compiled once and reused for every device.
    /// </summary>
    private sealed class LastContact(UnitOfWork work, string item)
    {
        private string _code = string.Empty;
        private long _id;

        /// <summary>The start of the newest slice (or coarser period) with a contact through one of <paramref name="codes"/>.</summary>
        public DateTimeOffset? Find(string client, IReadOnlyList<string> codes, DateTimeOffset since, DateTimeOffset now)
        {
            if (work.Stores.Usage.FindClientId(work, client) is not { } id)
            {
                return null;
            }

            _id = id;
            long? last = null;
            foreach (var code in codes)
            {
                _code = code;
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
                    if (work.Stores.Usage.HasContact(work, grain, period, _code, item, _id))
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

            return work.Stores.Usage.NewestContact(work, grain, top, bottom, UsagePeriods.Next(grain, 0), _code, item, _id);
        }
    }
}
