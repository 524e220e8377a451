using System.Data.Common;
using Dls.Core.Errors;
using Dls.Core.Storage;

namespace Dls.Bench;

/// <summary>
/// Reads back what the store counted for an item, to check that every acknowledged record counted. This is the one
/// place that knows where a per-scan item's running total is stored (today `item_counter.counted`), on either engine;
/// a store without that table or column is reported as "cannot check", not a crash.
/// </summary>
public static class UsageCheck
{
    /// <returns>The counted total, or null and the reason when the store does not keep it where this looks.</returns>
    public static (long? Counted, string? Why) CountedTotal(string storePath, string itemId)
    {
        try
        {
            // Opened only after the listeners have exited and the store's size has been taken (opening may create a WAL).
            using var connection = DlsStore.Open(storePath).OpenConnection();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT coalesce((SELECT counted FROM item_counter WHERE item_id = @item), 0);";
            var item = command.CreateParameter();
            // SQLite names a parameter with its prefix, Npgsql without.
            item.ParameterName = connection is Npgsql.NpgsqlConnection ? "item" : "@item";
            item.Value = itemId;
            command.Parameters.Add(item);
            return (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture), null);
        }
        catch (Exception error) when (error is DbException or DlsException)
        {
            return (null, error.Message);
        }
    }
}
