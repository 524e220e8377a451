using System.Net;
using System.Net.Sockets;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Tests;

/// <summary>
/// What a client test needs on the server side: items of the products DBR (per scan) and DLR (per device) in the code
/// <see cref="Code"/>, and the license key an application developer would paste, naming the listeners' addresses.
/// </summary>
public static class LicensedServer
{
    public const string Code = "216998-app";
    public const string ScanItem = "SCAN-DBR";
    public const string DeviceItem = "DEVICE-DLR";

    /// <summary>A PerScan item of DBR 10 (a million scans) and a PerDeviceYearly item of DLR 3 (ten devices), both in <see cref="Code"/>.</summary>
    public static void AddItems(DlsStore store)
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, ScanItem, LicenseMode.PerScan, 1_000_000, today.AddDays(-10), today.AddYears(1), product: "DBR", version: "10");
        TestCatalog.AddItem(store, DeviceItem, LicenseMode.PerDeviceYearly, 10, today.AddDays(-10), today.AddYears(1), product: "DLR", version: "3");
        TestCatalog.AddCode(store, Code, [ScanItem, DeviceItem], isDefault: true);
    }

    /// <summary>The <c>DLS2...</c> key of <see cref="Code"/> for a server whose listeners run at these addresses.</summary>
    public static string LicenseKey(ServerInfo server, string mainUrl, string? standbyUrl = null, string code = Code) =>
        Dls.Core.Licensing.LicenseKey.Encode(new LicenseKeyContent(code, code[..code.IndexOf('-')], mainUrl, standbyUrl ?? string.Empty, null, Convert.ToBase64String(server.PublicKeyDer())));

    /// <summary>
    /// What the store holds of an item's usage two ways, right after the listener acknowledged it: the raw records kept
    /// (one per counted record, so a batch counted twice shows) and the item's counter (its quota: units for count modes
    /// such as PerScan; a device item counts devices, not units, and its counter stays 0).
    /// </summary>
    public static (long Raw, long Counter) Counted(DlsStore store, string itemId)
    {
        var raw = Dls.Core.Usage.RawUsage.Batches(store).Sum(b => b.Records.Where(r => r.ItemId == itemId).Sum(r => r.Count));
        using var connection = store.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT counted FROM item_counter WHERE item_id = @item;";
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@item";
        parameter.Value = itemId;
        command.Parameters.Add(parameter);
        var counter = command.ExecuteScalar();
        return (raw, counter is null or DBNull ? 0 : Convert.ToInt64(counter, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>An address on 127.0.0.1 whose port was free a moment ago: for listeners that must come back at the same URL.</summary>
    public static string FreeLoopbackUrl()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/";
    }
}
