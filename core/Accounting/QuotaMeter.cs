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
        var used = item.Mode switch
        {
            LicenseMode.PerScan or LicenseMode.PerPage => Scalar(connection, transaction,
                "SELECT coalesce(sum(count), 0) FROM usage_record WHERE item_id = $item;", item.ItemId, null),
            LicenseMode.PerConcurrentDevice => Scalar(connection, transaction,
                "SELECT count(DISTINCT client_uuid) FROM usage_record WHERE item_id = $item AND slice = $since;", item.ItemId, TimeSlice.StartOf(now)),
            LicenseMode.PerConcurrentInstance => Scalar(connection, transaction,
                "SELECT count(DISTINCT client_uuid || '/' || instance_id) FROM usage_record WHERE item_id = $item AND slice = $since;", item.ItemId, TimeSlice.StartOf(now)),
            _ => Scalar(connection, transaction,
                "SELECT count(DISTINCT client_uuid) FROM auth_event WHERE item_id = $item AND error_code = 0 AND time >= $since;", item.ItemId, now - ActiveWindow(item.Mode)),
        };
        var tolerance = Tolerance(item);
        var toleranceUsed = item.Mode is LicenseMode.PerConcurrentDevice or LicenseMode.PerConcurrentInstance ? 0 : Math.Max(0, used - item.Quantity);
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

    private static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, string itemId, DateTimeOffset? since)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$item", itemId);
        if (since is not null)
        {
            command.Parameters.AddWithValue("$since", Timestamps.Format(since.Value));
        }

        return Convert.ToInt64(command.ExecuteScalar());
    }
}
