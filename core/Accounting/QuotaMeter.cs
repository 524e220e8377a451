using Dls.Core.Licensing;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Accounting;

/// <summary>
/// Measures an item's use for Get-DlsLicenseItem, the home page and alerts. The one place that says what
/// "used" means for each mode.
/// </summary>
public static class QuotaMeter
{
    public static QuotaMeasure Measure(SqliteConnection connection, SqliteTransaction? transaction, LicenseItem item, DateTimeOffset now)
    {
        var tolerance = Tolerance(item);
        long used;
        long toleranceUsed;
        if (Ledger.IsCountMode(item.Mode))
        {
            used = Ledger.Counter(connection, transaction, item.ItemId).Counted;
            toleranceUsed = Math.Max(0, used - item.Quantity);
        }
        else if (Ledger.IsConcurrentMode(item.Mode))
        {
            // Devices or instances reported in the current slice; the tolerance is spent over the item's life.
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "SELECT coalesce((SELECT active FROM concurrent_slice WHERE item_id = $item AND slice = $slice), 0);";
            command.Parameters.AddWithValue("$item", item.ItemId);
            command.Parameters.AddWithValue("$slice", Timestamps.Format(TimeSlice.StartOf(now)));
            used = Convert.ToInt64(command.ExecuteScalar());
            toleranceUsed = Ledger.Counter(connection, transaction, item.ItemId).Overage;
        }
        else
        {
            // Devices, servers or domains whose seat has not lapsed.
            used = Ledger.ActiveSeats(connection, transaction, item.ItemId, now);
            toleranceUsed = Math.Max(0, used - item.Quantity);
        }

        return new QuotaMeasure(item.ItemId, item.Mode, item.Quantity, used, tolerance, toleranceUsed);
    }

    /// <summary>What a mode allows beyond the quantity (SPEC §3 and §7: percentages rounded half up).</summary>
    public static long Tolerance(LicenseItem item) => item.Mode switch
    {
        LicenseMode.PerScan or LicenseMode.PerPage => RoundHalfUp(item.Quantity * 0.05m),
        LicenseMode.PerConcurrentDevice or LicenseMode.PerConcurrentInstance => 1000 * item.Quantity,
        LicenseMode.PerDomain => 0,
        _ => RoundHalfUp(item.Quantity * 0.10m),
    };

    /// <summary>How long a device stays active after its last contact.</summary>
    public static TimeSpan ActiveWindow(LicenseMode mode) => mode switch
    {
        LicenseMode.PerDeviceYearly or LicenseMode.PerServer or LicenseMode.PerDomain => TimeSpan.FromDays(365),
        LicenseMode.PerDeviceQuarterly => TimeSpan.FromDays(90),
        LicenseMode.PerDeviceMonthly => TimeSpan.FromDays(30),
        LicenseMode.PerDeviceDaily => TimeSpan.FromHours(24),
        _ => TimeSlice.Length * 2,
    };

    private static long RoundHalfUp(decimal value) => (long)Math.Round(value, MidpointRounding.AwayFromZero);
}
