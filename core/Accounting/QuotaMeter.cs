using Dls.Core.Licensing;
using Dls.Core.Usage;
using Dls.Core.Storage;
using Dls.Core.Storage.Sql;
using System.Data.Common;

namespace Dls.Core.Accounting;

/// <summary>
/// Measures an item's use for Get-DlsLicenseItem, the home page and alerts, in the terms its mode's
/// <see cref="LicenseModeRules.Basis"/> counts.
/// </summary>
public static class QuotaMeter
{
    /// <remarks>For code not yet moved onto units of work.</remarks>
    public static QuotaMeasure Measure(DbConnection connection, DbTransaction? transaction, LicenseItem item, DateTimeOffset now)
    {
        using var work = SqlUnitOfWork.Borrow(connection, transaction);
        return Measure(work, item, now);
    }

    public static QuotaMeasure Measure(UnitOfWork work, LicenseItem item, DateTimeOffset now)
    {
        var rules = LicenseModeRules.For(item.Mode);
        var tolerance = rules.Tolerance(item.Quantity);
        long used;
        long toleranceUsed;
        switch (rules.Basis)
        {
            case QuotaBasis.Count:
                used = Ledger.Counter(work, item.ItemId).Counted;
                toleranceUsed = Math.Max(0, used - item.Quantity);
                break;
            case QuotaBasis.Concurrent:
            {
                // Devices or instances reported in the current slice; the tolerance is spent over the item's life.
                used = work.Stores.Devices.ActiveInSlice(work, item.ItemId, TimeSlice.StartOf(now));
                toleranceUsed = Ledger.Counter(work, item.ItemId).Overage;
                break;
            }

            default:
                // Devices, servers or domains whose seat has not lapsed.
                used = Ledger.ActiveSeats(work, item.ItemId, now);
                toleranceUsed = Math.Max(0, used - item.Quantity);
                break;
        }

        return new QuotaMeasure(item.ItemId, item.Mode, item.Quantity, used, tolerance, toleranceUsed);
    }
}
