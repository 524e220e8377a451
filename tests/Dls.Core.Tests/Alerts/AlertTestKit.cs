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
        var tolerance = LicenseModeRules.For(item.Mode).Tolerance(item.Quantity);
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

/// <summary>An item of license L1 in a code, as an import would leave it (through the shared <see cref="Dls.Tests.TestCatalog"/>).</summary>
internal static class TestLicenses
{
    public static void AddItem(DlsStore store, string itemId, LicenseMode mode, long quantity, DateOnly expires, string code = "216998-app")
    {
        Dls.Tests.TestCatalog.AddItem(store, itemId, mode, quantity, new DateOnly(2026, 1, 1), expires,
            deployment: mode == LicenseMode.PerServer ? Deployment.Server : Deployment.Desktop, licenseId: "L1");
        Dls.Tests.TestCatalog.LinkItem(store, code, itemId);
    }
}
