using System.Net;
using Dls.Core.Licensing;
using Dls.Tests;
using static Dls.Listener.Tests.ProtocolFixture;

namespace Dls.Listener.Tests;

/// <summary>
/// The listener's writer keeps the catalog it reads on every request; a change made meanwhile through another
/// connection to the store (the cmdlets' processes; here the core services of the test, beside the listener hosted in
/// it) must show in its very next answer.
/// </summary>
public sealed class CatalogChangeTests
{
    [Fact]
    public async Task A_revocation_a_disabled_code_and_a_changed_item_list_made_through_another_connection_show_in_the_next_answer()
    {
        await using var host = InProcessListener.Start();
        var store = host.OpenStore();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        TestCatalog.AddItem(store, "Y", LicenseMode.PerDeviceYearly, 100, today.AddYears(-1), today.AddYears(1));
        TestCatalog.AddItem(store, "REV", LicenseMode.PerDeviceYearly, 100, today.AddYears(-1), today.AddYears(1), product: "RVK");
        TestCatalog.AddCode(store, "216998-app", ["Y", "REV"], isDefault: true);
        var codes = new HandshakeCodeService(store, TimeProvider.System);

        var (granted, grant) = await PostAsync(host.Http, "api/v1/auth", AuthBody("device-1", ("product", "RVK")));
        Assert.Equal(HttpStatusCode.OK, granted);
        var firstUpdate = DateTimeOffset.Parse(grant.GetProperty("handshakeUpdateTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        // A revoking item arrives (as Import-DlsLicense writes it), once the clock has passed the first answer's time
        // (wire times have milliseconds: a change in the same millisecond could not show as later).
        Assert.True(await Eventually.Until(() => DateTimeOffset.UtcNow >= firstUpdate.AddMilliseconds(1), TimeSpan.FromSeconds(5)));
        TestCatalog.AddItem(store, "REVOKER", LicenseMode.PerDeviceYearly, 100, today.AddYears(-1), today.AddYears(1), product: "RVK", version: "99", revokes: "REV", licenseId: "L-2");
        var (revokedStatus, revoked) = await PostAsync(host.Http, "api/v1/auth", AuthBody("device-1", ("product", "RVK")));
        Assert.Equal(113, revoked.GetProperty("errorCode").GetInt32());
        Assert.NotEqual(HttpStatusCode.OK, revokedStatus);

        // Another item still grants, and its answer carries the newer handshakeUpdateTime.
        var (stillGranted, other) = await PostAsync(host.Http, "api/v1/auth", AuthBody("device-1"));
        Assert.Equal(HttpStatusCode.OK, stillGranted);
        var secondUpdate = DateTimeOffset.Parse(other.GetProperty("handshakeUpdateTime").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(secondUpdate > firstUpdate, $"handshakeUpdateTime {secondUpdate:O} should be after {firstUpdate:O}");

        // Set-DlsHandshakeCode -Enabled:$false, then a report and an authorization.
        codes.Set("216998-app", new HandshakeCodeChanges { Enabled = false });
        var (disabledAuth, disabled) = await PostAsync(host.Http, "api/v1/auth", AuthBody("device-1"));
        var (disabledReport, disabledReportJson) = await PostAsync(host.Http, "api/v1/reports", Report("device-1", "b1", "216998-app", ("Y", 1)));
        Assert.Equal((HttpStatusCode.NotFound, 101), (disabledAuth, disabled.GetProperty("errorCode").GetInt32()));
        Assert.Equal((HttpStatusCode.NotFound, 101), (disabledReport, disabledReportJson.GetProperty("errorCode").GetInt32()));

        // Enabled again, but without item Y: the DBR client now finds no item (104).
        codes.Set("216998-app", new HandshakeCodeChanges { Enabled = true, ItemIds = ["REV"] });
        var (noItem, noItemJson) = await PostAsync(host.Http, "api/v1/auth", AuthBody("device-1"));
        Assert.Equal(104, noItemJson.GetProperty("errorCode").GetInt32());
        Assert.NotEqual(HttpStatusCode.OK, noItem);
    }
}
