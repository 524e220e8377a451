using Dls.Core.Licensing;
using Dls.Core.Usage;
using Microsoft.Data.Sqlite;

namespace Dls.Core.Accounting;

/// <summary>
/// Measures an item's use for Get-DlsLicenseItem, the home page and alerts, in the terms its mode's
/// <see cref="LicenseModeRules.Basis"/> counts.
/// </summary>
public static class QuotaMeter
{
    public static QuotaMeasure Measure(SqliteConnection connection, SqliteTransaction? transaction, LicenseItem item, DateTimeOffset now)
    {
        var rules = LicenseModeRules.For(item.Mode);
        var tolerance = rules.Tolerance(item.Quantity);
        long used;
        long toleranceUsed;
        switch (rules.Basis)
        {
            case QuotaBasis.Count:
                used = Ledger.Counter(connection, transaction, item.ItemId).Counted;
                toleranceUsed = Math.Max(0, used - item.Quantity);
                break;
            case QuotaBasis.Concurrent:
            {
                // Devices or instances reported in the current slice; the tolerance is spent over the item's life.
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "SELECT coalesce((SELECT active FROM concurrent_slice WHERE item_id = $item AND slice = $slice), 0);";
                command.Parameters.AddWithValue("$item", item.ItemId);
                command.Parameters.AddWithValue("$slice", Timestamps.Format(TimeSlice.StartOf(now)));
                used = Convert.ToInt64(command.ExecuteScalar());
                toleranceUsed = Ledger.Counter(connection, transaction, item.ItemId).Overage;
                break;
            }

            default:
                // Devices, servers or domains whose seat has not lapsed.
                used = Ledger.ActiveSeats(connection, transaction, item.ItemId, now);
                toleranceUsed = Math.Max(0, used - item.Quantity);
                break;
        }

        return new QuotaMeasure(item.ItemId, item.Mode, item.Quantity, used, tolerance, toleranceUsed);
    }
}
