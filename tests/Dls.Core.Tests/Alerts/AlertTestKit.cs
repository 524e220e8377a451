using System.Globalization;
using Dls.Core.Accounting;
using Dls.Core.Alerts;
using Dls.Core.Licensing;
using Dls.Core.Storage;

namespace Dls.Core.Tests.Alerts;

/// <summary>Items and measured values a test sets exactly; the check reads them through the measurement seam.</summary>
internal sealed class FakeMeasurements : IAlertMeasurements
{
    private readonly Dictionary<string, ItemReading> _items = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CodeAuthorizations> _codes = new(StringComparer.Ordinal);

    public static LicenseItem Item(string id, LicenseMode mode, long quantity, DateOnly? expires = null, string product = "DBR") =>
        new(id, "L1", product, "10", mode is LicenseMode.PerServer or LicenseMode.PerConcurrentInstance ? Deployment.Server : Deployment.Desktop, string.Empty,
            mode, quantity, new DateOnly(2026, 1, 1), expires ?? new DateOnly(2030, 12, 31), [], null);

    /// <summary>Sets an item's use: for concurrent items <paramref name="used"/> is the tolerance used (extra slices).</summary>
    public FakeMeasurements Use(LicenseItem item, long used, params string[] codes)
    {
        var tolerance = QuotaMeter.Tolerance(item);
        var measure = item.Mode is LicenseMode.PerConcurrentDevice or LicenseMode.PerConcurrentInstance
            ? new QuotaMeasure(item.ItemId, item.Mode, item.Quantity, 0, tolerance, used)
            : new QuotaMeasure(item.ItemId, item.Mode, item.Quantity, used, tolerance, Math.Max(0, used - item.Quantity));
        _items[item.ItemId] = new ItemReading(item, false, measure, codes.Length == 0 ? ["216998-app"] : codes);
        return this;
    }

    public FakeMeasurements Remove(string itemId)
    {
        _items.Remove(itemId);
        return this;
    }

    public FakeMeasurements Authorizations(string code, long total, long failed)
    {
        _codes[code] = new CodeAuthorizations(code, total, failed);
        return this;
    }

    public IReadOnlyList<ItemReading> Items(DateTimeOffset now) => _items.Values.ToList();

    public IReadOnlyList<CodeAuthorizations> Authorizations(DateTimeOffset since, DateTimeOffset now) => _codes.Values.ToList();
}

/// <summary>Writes licenses, items and codes as the M0002 tables hold them (what Import-DlsLicense will do).</summary>
internal static class TestLicenses
{
    public static void AddItem(DlsStore store, string itemId, LicenseMode mode, long quantity, DateOnly expires, string code = "216998-app")
    {
        store.Write((connection, transaction) =>
        {
            void Run(string sql, params (string Name, object Value)[] parameters)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = sql;
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.AddWithValue(name, value);
                }

                command.ExecuteNonQuery();
            }

            var now = Timestamps.Format(DateTimeOffset.UtcNow);
            Run("""
                INSERT OR IGNORE INTO license (license_id, alias, organization_id, server_uuid, issued_at, issuer_key_id, file_sha256, document, imported_at, updated_at)
                VALUES ('L1', 'DM_L1', '216998', 'uuid', $now, 'k', 'x', '{}', $now, $now);
                """, ("$now", now));
            Run("""
                INSERT INTO license_item (item_id, license_id, product, version, deployment, edition, mode, quantity, start_date, expiration_date, updated_at)
                VALUES ($id, 'L1', 'DBR', '10', $deployment, '', $mode, $quantity, '2026-01-01', $expires, $now);
                """,
                ("$id", itemId), ("$deployment", mode == LicenseMode.PerServer ? "Server" : "Desktop"), ("$mode", mode.ToString()),
                ("$quantity", quantity), ("$expires", expires.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("$now", now));
            Run("""
                INSERT OR IGNORE INTO handshake_code (code, organization_id, name, created_at, updated_at)
                VALUES ($code, '216998', $name, $now, $now);
                """, ("$code", code), ("$name", code[(code.IndexOf('-', StringComparison.Ordinal) + 1)..]), ("$now", now));
            Run("INSERT INTO handshake_code_item (code, item_id, position) VALUES ($code, $id, (SELECT count(*) FROM handshake_code_item WHERE code = $code));",
                ("$code", code), ("$id", itemId));
        });
    }
}
