using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dls.Core.Licensing;
using Dls.Tests;

namespace Dls.Listener.Tests;

/// <summary>
/// One listener (in this process, over a real store file) over a catalog that can produce every error code: codes 216998-app (default, items of every
/// kind), 216998-locked (session password "pw"), 216998-web (allowed domain example.com) and 777-x (an organization
/// without default code).
/// </summary>
public sealed class ProtocolFixture : IAsyncLifetime
{
    public InProcessListener Host { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Host = InProcessListener.Start();
        var store = Host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "Y", LicenseMode.PerDeviceYearly, 1000, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddItem(store, "EXP", LicenseMode.PerDeviceYearly, 10, today.AddYears(-2), today.AddDays(-8), product: "OLD");
        TestCatalog.AddItem(store, "GRACE", LicenseMode.PerDeviceYearly, 10, today.AddYears(-2), today.AddDays(-2), product: "GRC");
        TestCatalog.AddItem(store, "FUT", LicenseMode.PerDeviceYearly, 10, today.AddDays(2), today.AddYears(1), product: "FUT");
        TestCatalog.AddItem(store, "REV", LicenseMode.PerDeviceYearly, 10, today.AddYears(-1), today.AddYears(1), product: "RVK");
        TestCatalog.AddItem(store, "REVOKER", LicenseMode.PerDeviceYearly, 10, today.AddYears(-1), today.AddYears(1), product: "RVK", version: "99", revokes: "REV");
        TestCatalog.AddItem(store, "ONE", LicenseMode.PerDeviceYearly, 1, today.AddYears(-1), today.AddYears(1), product: "ONE");
        TestCatalog.AddItem(store, "SCAN", LicenseMode.PerScan, 10, today.AddYears(-1), today.AddYears(1), product: "SCN");
        TestCatalog.AddItem(store, "DOM", LicenseMode.PerDomain, 1, today.AddYears(-1), today.AddYears(1), product: "DOM", deployment: Deployment.Browser);
        TestCatalog.AddCode(store, "216998-app", ["Y", "EXP", "GRACE", "FUT", "REV", "ONE", "SCAN", "DOM"], isDefault: true);
        TestCatalog.AddCode(store, "216998-locked", ["Y"], sessionPassword: "pw");
        TestCatalog.AddCode(store, "216998-web", ["DOM"], domains: ["example.com"]);
        TestCatalog.AddCode(store, "777-x", ["Y"]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();

    /// <summary>An auth request body: a desktop DBR 10 client of 216998-app unless overridden (null removes a field).</summary>
    public static Dictionary<string, object?> AuthBody(string client, params (string Name, object? Value)[] changes)
    {
        var body = new Dictionary<string, object?>
        {
            ["handshakeCode"] = "216998-app",
            ["clientUuid"] = client,
            ["product"] = "DBR",
            ["version"] = "10.4.2000",
            ["deployment"] = "Desktop",
            ["processName"] = "scanner",
            ["os"] = "Linux",
            ["requestId"] = Guid.NewGuid().ToString("N"),
        };
        foreach (var (name, value) in changes)
        {
            if (value is null)
            {
                body.Remove(name);
            }
            else
            {
                body[name] = value;
            }
        }

        return body;
    }

    /// <summary>A report body; each record names its item's product (DBR unless the fixture's catalog says otherwise).</summary>
    public static object Report(string client, string batchId, string code, params (string ItemId, long Count)[] records) => new
    {
        clientUuid = client,
        handshakeCode = code,
        batchId,
        records = records.Select(r => new { slice = SliceNow(), itemId = r.ItemId, product = ProductOf(r.ItemId), count = r.Count }).ToArray(),
    };

    /// <summary>The products of this fixture's items that are not DBR.</summary>
    public static string ProductOf(string itemId) => itemId switch
    {
        "EXP" => "OLD",
        "GRACE" => "GRC",
        "FUT" => "FUT",
        "REV" or "REVOKER" => "RVK",
        "ONE" => "ONE",
        "SCAN" => "SCN",
        "DOM" => "DOM",
        _ => "DBR",
    };

    /// <summary>Authorizes a desktop client for a product through 216998-app (what a real client does before it reports).</summary>
    public static async Task AuthorizeAsync(HttpClient http, string client, string product = "DBR", string code = "216998-app")
    {
        var (status, json) = await PostAsync(http, "api/v1/auth", AuthBody(client, ("product", product), ("handshakeCode", code)));
        Assert.True(status == HttpStatusCode.OK, $"authorizing {client} for {product}: {status} {json}");
    }

    public static string SliceNow()
    {
        var now = DateTimeOffset.UtcNow;
        var start = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.FromMinutes(3).Ticks, TimeSpan.Zero);
        return start.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
    }

    public static async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        return (response.StatusCode, await ReadAsync(response));
    }

    public static async Task<(HttpStatusCode Status, JsonElement Json)> PostRawAsync(HttpClient http, string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(path, content);
        return (response.StatusCode, await ReadAsync(response));
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }
}
