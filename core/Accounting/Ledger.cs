using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Core.Usage;

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
    public static bool HoldsActiveSeat(UnitOfWork work, LicenseItem item, SeatClaim claim, DateTimeOffset now)
    {
        if (LicenseModeRules.For(item.Mode).Basis != QuotaBasis.Seats || SeatKey(item, claim) is not { } key)
        {
            return false;
        }

        return work.Stores.Devices.HoldsActiveSeat(work, item.ItemId, key, now);
    }

    /// <summary>
    /// Decides whether the item can serve the claim now (its dates and revocation are checked by the caller)
    /// and, for seat modes, takes or refreshes the seat.
    /// </summary>
    /// <param name="seats">The writer's running count of active seats, or null to count them now.</param>
    public static SeatResult TryTake(
        UnitOfWork work, LicenseItem item, SeatClaim claim, DateTimeOffset now, ActiveSeatCounter? seats = null)
    {
        var rules = LicenseModeRules.For(item.Mode);
        if (rules.Basis == QuotaBasis.Seats)
        {
            return TakeSeat(work, item, rules, claim, now, seats);
        }

        var tolerance = rules.Tolerance(item.Quantity);
        if (rules.Basis == QuotaBasis.Count)
        {
            var counted = Counter(work, item.ItemId).Counted;
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

        var overage = Counter(work, item.ItemId).Overage;
        if (overage >= tolerance)
        {
            var slice = TimeSlice.StartOf(now);
            var others = work.Stores.Devices.ActiveOfOthers(work, item.ItemId, slice, slice - TimeSlice.Length, claim.ClientUuid);
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
        UnitOfWork work, IReadOnlyDictionary<string, LicenseItem> items, string clientUuid,
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
                CountConcurrent(work, item, rules, clientUuid, record);
            }
            else if (rules.ReportsRefreshSeats && refreshed.Add(item.ItemId))
            {
                Refresh(work, item, clientUuid, now);
            }
        }

        foreach (var (itemId, count) in counted)
        {
            work.Stores.Devices.AddCounted(work, itemId, count);
        }
    }

    /// <summary>The running totals of an item: counted scans/pages, extra slices used from the concurrent tolerance.</summary>
    public static (long Counted, long Overage) Counter(UnitOfWork work, string itemId) => work.Stores.Devices.Counter(work, itemId);

    /// <summary>When a seat taken or refreshed now lapses: after the mode's window, and never after the item's last usable moment.</summary>
    public static DateTimeOffset SeatHorizon(LicenseItem item, DateTimeOffset now)
    {
        var until = now + LicenseModeRules.For(item.Mode).ActiveWindow;
        return until < item.GraceEndsAt ? until : item.GraceEndsAt;
    }

    private static SeatResult TakeSeat(
        UnitOfWork work, LicenseItem item, LicenseModeRules rules, SeatClaim claim, DateTimeOffset now, ActiveSeatCounter? seats)
    {
        var domains = rules.Key == SeatKeyKind.Domain;
        if (SeatKey(item, claim) is not { } key)
        {
            return SeatResult.Refuse(ErrorCodes.NotAllowed, $"Item {item.ItemId} is licensed per domain; the request names no domain.");
        }

        var horizon = SeatHorizon(item, now);
        if (!HoldsActiveSeat(work, item, claim, now))
        {
            var tolerance = rules.Tolerance(item.Quantity);
            var active = seats?.Active(work, item.ItemId, now) ?? ActiveSeats(work, item.ItemId, now);
            if (rules.IsUsedUp(active, item.Quantity))
            {
                return domains
                    ? SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: the domain quota is used up ({active} of {item.Quantity} domains); '{key}' is not one of them.")
                    : SeatResult.Refuse(rules.UsedUpError, $"Item {item.ItemId}: the {rules.Unit} quota is used up ({active} active of {item.Quantity} + {tolerance} tolerance).");
            }

            work.Stores.Devices.TakeSeat(work, item.ItemId, key, domains ? "domain" : "device", claim.ClientUuid, now, horizon);
            seats?.Taken(item.ItemId, horizon);
            var warning = active + 1 > item.Quantity
                ? $"Item {item.ItemId} is over its quantity ({active + 1} of {item.Quantity}); the tolerance is in use."
                : null;
            return new SeatResult(horizon, warning, null);
        }

        work.Stores.Devices.RefreshSeat(work, item.ItemId, key, claim.ClientUuid, now, horizon);
        return new SeatResult(horizon, null, null);
    }

    internal static long ActiveSeats(UnitOfWork work, string itemId, DateTimeOffset now) => work.Stores.Devices.ActiveSeats(work, itemId, now);

    /// <summary>A report is a contact: it keeps an active device seat alive (a lapsed one is not revived by a report).</summary>
    private static void Refresh(UnitOfWork work, LicenseItem item, string clientUuid, DateTimeOffset now)
    {
        work.Stores.Devices.RefreshActiveSeat(work, item.ItemId, clientUuid, now, SeatHorizon(item, now));
    }

    private static void CountConcurrent(UnitOfWork work, LicenseItem item, LicenseModeRules rules, string clientUuid, UsageRecord record)
    {
        var key = rules.Key == SeatKeyKind.Instance ? $"{clientUuid}/{record.InstanceId}" : clientUuid;
        var slice = TimeSlice.StartOf(record.Slice);
        if (!work.Stores.Devices.AddConcurrentSlot(work, item.ItemId, slice, key, clientUuid))
        {
            return;
        }

        if (work.Stores.Devices.AddActiveInSlice(work, item.ItemId, slice) > item.Quantity)
        {
            work.Stores.Devices.AddOverage(work, item.ItemId);
        }
    }
}
