using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

using Dls.Tests;

namespace Dls.Core.Tests.Licensing;

public sealed class LicenseImporterTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly LicenseFiles _files = new();
    private readonly DlsStore _store;
    private readonly string _uuid;

    public LicenseImporterTests()
    {
        _store = _temp.Open();
        _uuid = new ServerService(_store, _temp.Clock).Initialize(organizationId: null, force: false).Uuid;
        new TrustedIssuerService(_store, _temp.Clock).Add("Vendor", _files.IssuerPublicKeyPem);
    }

    public void Dispose()
    {
        _files.Dispose();
        _temp.Dispose();
    }

    private LicenseImporter Importer => new(_store, _temp.Clock);

    private LicenseService Licenses => new(_store, _temp.Clock);

    private byte[] File(string licenseId = "L1", DateTimeOffset? issuedAt = null, string? uuid = null, string organizationId = "216998", params LicenseItemSpec[] items) =>
        _files.Bytes(LicenseFiles.Document(uuid ?? _uuid, licenseId, organizationId, issuedAt, items));

    private void AssertRefusedUnchanged(string errorId, byte[] file, string? newCode = null, string? existingCode = null)
    {
        var before = StoreDigest.Of(_temp.Path);
        var error = Assert.Throws<DlsException>(() => Importer.Import(file, newCode, existingCode));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void Import_into_a_new_code_orders_items_nearest_expiry_first_and_makes_it_the_default()
    {
        var file = File(items: [LicenseFiles.Item("LATE", "2028-01-01"), LicenseFiles.Item("SOON", "2027-01-01"), LicenseFiles.Item("MID", "2027-06-01")]);

        var (plan, license) = Importer.Import(file, newCodeName: "vehicleApp");

        Assert.Equal(LicenseImportAction.Add, plan.Action);
        Assert.Equal("216998", plan.AdoptedOrganizationId);
        Assert.Equal("216998", new ServerService(_store, _temp.Clock).Get().OrganizationId);
        Assert.Equal(["SOON", "MID", "LATE"], license.Items);
        var code = new HandshakeCodeService(_store, _temp.Clock).Get("216998-vehicleApp");
        Assert.Equal(["SOON", "MID", "LATE"], code.ItemIds);
        Assert.True(code.IsDefault);
        Assert.True(code.Enabled);
    }

    [Fact]
    public void Preview_describes_the_import_and_changes_nothing()
    {
        var before = StoreDigest.Of(_temp.Path);

        var plan = Importer.Preview(File(items: [LicenseFiles.Item("I1", quantity: 25)]), newCodeName: "app");

        Assert.Equal(before, StoreDigest.Of(_temp.Path));
        var text = plan.Describe();
        Assert.Contains("Add license 'L1'", text);
        Assert.Contains("add item I1: DBR 10 Desktop PerDeviceYearly, quantity 25, 2026-01-01 to 2027-12-31", text);
        Assert.Contains("create handshake code 216998-app (the organization's default) with items I1", text);
        Assert.Contains("set the server's organization id to 216998", text);
    }

    [Fact]
    public void Importing_the_same_file_again_changes_nothing()
    {
        var file = File();
        Importer.Import(file, newCodeName: "app");
        var before = StoreDigest.Of(_temp.Path);

        var (plan, _) = Importer.Import(file);

        Assert.True(plan.ChangesNothing);
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void The_same_payload_signed_again_is_the_same_license()
    {
        Importer.Import(File());
        var before = StoreDigest.Of(_temp.Path);

        // ECDSA signatures are randomized: a second signing makes another file with the same content.
        Assert.True(Importer.Import(File()).Plan.ChangesNothing);
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void Reimporting_a_known_file_into_a_code_adds_its_items_to_the_code()
    {
        var file = File();
        Importer.Import(file);

        var (plan, _) = Importer.Import(file, newCodeName: "later");

        Assert.Equal(LicenseImportAction.Unchanged, plan.Action);
        Assert.Equal(["I1"], new HandshakeCodeService(_store, _temp.Clock).Get("216998-later").ItemIds);
    }

    [Fact]
    public void A_newer_issue_replaces_the_items_and_codes_lose_the_dropped_ones()
    {
        var t0 = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        Importer.Import(File(issuedAt: t0, items: [LicenseFiles.Item("KEEP", quantity: 10), LicenseFiles.Item("DROP")]), newCodeName: "app");

        var newer = File(issuedAt: t0.AddDays(1), items: [LicenseFiles.Item("KEEP", quantity: 20), LicenseFiles.Item("NEW", "2027-01-01")]);
        var preview = Importer.Preview(newer);
        var (plan, license) = Importer.Import(newer);

        Assert.Equal(LicenseImportAction.Replace, plan.Action);
        Assert.Contains("change item KEEP: quantity 10 → 20", preview.Describe());
        Assert.Contains("handshake code 216998-app loses DROP", preview.Describe());
        Assert.Equal(["NEW", "KEEP"], license.Items);
        Assert.Equal(20, Licenses.Items(itemId: "KEEP").Single().Quantity);
        Assert.Equal(["KEEP"], new HandshakeCodeService(_store, _temp.Clock).Get("216998-app").ItemIds);
    }

    [Fact]
    public void An_older_or_equal_issue_with_other_content_is_superseded()
    {
        var t0 = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        Importer.Import(File(issuedAt: t0, items: [LicenseFiles.Item("I1", quantity: 10)]));

        AssertRefusedUnchanged("LicenseSuperseded", File(issuedAt: t0, items: [LicenseFiles.Item("I1", quantity: 99)]));
        AssertRefusedUnchanged("LicenseSuperseded", File(issuedAt: t0.AddDays(-1), items: [LicenseFiles.Item("I1", quantity: 99)]));
    }

    [Fact]
    public void A_file_for_another_server_is_refused()
    {
        AssertRefusedUnchanged("LicenseBoundToOtherServer", File(uuid: Guid.NewGuid().ToString("D")));
    }

    [Fact]
    public void A_file_of_another_organization_is_refused()
    {
        Importer.Import(File());
        AssertRefusedUnchanged("LicenseOrganizationMismatch", File(licenseId: "L2", organizationId: "777", items: [LicenseFiles.Item("I2")]));
    }

    [Fact]
    public void An_item_id_held_by_another_license_is_refused()
    {
        Importer.Import(File());
        AssertRefusedUnchanged("LicenseItemConflict", File(licenseId: "L2", items: [LicenseFiles.Item("I1")]));
    }

    [Fact]
    public void Untrusted_and_tampered_files_are_refused()
    {
        using var stranger = new LicenseFiles();
        AssertRefusedUnchanged("LicenseIssuerNotTrusted", stranger.Bytes(LicenseFiles.Document(_uuid)));

        var file = File();
        file[file.Length / 2] ^= 0x01;
        var before = StoreDigest.Of(_temp.Path);
        Assert.Throws<DlsException>(() => Importer.Import(file));
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void A_new_code_name_that_exists_and_a_missing_code_are_refused()
    {
        Importer.Import(File(), newCodeName: "app");
        AssertRefusedUnchanged("HandshakeCodeExists", File(licenseId: "L2", items: [LicenseFiles.Item("I2")]), newCode: "app");
        AssertRefusedUnchanged("HandshakeCodeNotFound", File(licenseId: "L2", items: [LicenseFiles.Item("I2")]), existingCode: "216998-nope");
    }

    [Fact]
    public void Importing_into_an_existing_code_slots_the_items_in_by_expiry()
    {
        Importer.Import(File(items: [LicenseFiles.Item("A", "2027-01-01"), LicenseFiles.Item("C", "2027-12-01")]), newCodeName: "app");

        var (plan, _) = Importer.Import(File(licenseId: "L2", items: [LicenseFiles.Item("B", "2027-06-01"), LicenseFiles.Item("D", "2028-06-01")]), existingCode: "216998-app");

        Assert.Equal(["B", "D"], plan.Code!.AddedItemIds);
        Assert.Equal(["A", "B", "C", "D"], new HandshakeCodeService(_store, _temp.Clock).Get("216998-app").ItemIds);
    }

    [Fact]
    public void A_revoking_item_invalidates_both_items_and_moves_the_codes_update_time()
    {
        Importer.Import(File(items: [LicenseFiles.Item("OLD")]), newCodeName: "app");
        var before = ReadUpdateTime("216998-app");
        _temp.Clock.Advance(TimeSpan.FromMinutes(5));

        Importer.Import(File(licenseId: "L2", items: [LicenseFiles.Item("FIX", revokes: "OLD")]));

        Assert.Equal(ItemStatus.Revoked, Licenses.Items(itemId: "OLD").Single().Status);
        Assert.Equal(ItemStatus.Revoked, Licenses.Items(itemId: "FIX").Single().Status);
        Assert.Equal(["FIX"], Licenses.Items(itemId: "OLD").Single().RevokedBy);
        Assert.True(ReadUpdateTime("216998-app") > before);
    }

    [Fact]
    public void Item_status_follows_the_dates()
    {
        Importer.Import(File(items: [
            LicenseFiles.Item("FUTURE", start: "2026-12-01", expiration: "2027-12-31"),
            LicenseFiles.Item("ACTIVE", start: "2026-01-01", expiration: "2026-11-01"),
            LicenseFiles.Item("GRACE", start: "2026-01-01", expiration: "2026-10-27"),
            LicenseFiles.Item("EXPIRED", start: "2026-01-01", expiration: "2026-10-24"),
        ]));

        // The clock stands at 2026-11-01 12:00 UTC.
        var status = Licenses.Items().ToDictionary(i => i.ItemId, i => i.Status);
        Assert.Equal(ItemStatus.NotYetEffective, status["FUTURE"]);
        Assert.Equal(ItemStatus.Active, status["ACTIVE"]);
        Assert.Equal(ItemStatus.InGrace, status["GRACE"]);
        Assert.Equal(ItemStatus.Expired, status["EXPIRED"]);
    }

    [Fact]
    public void Removing_a_license_names_the_codes_that_lose_items()
    {
        Importer.Import(File(items: [LicenseFiles.Item("I1"), LicenseFiles.Item("I2")]), newCodeName: "app");

        var (_, losses) = Licenses.Remove("L1");

        Assert.Equal("216998-app", Assert.Single(losses).Code);
        Assert.Equal(["I1", "I2"], losses[0].ItemIds);
        Assert.Empty(new HandshakeCodeService(_store, _temp.Clock).Get("216998-app").ItemIds);
        Assert.Empty(Licenses.List());
    }

    [Fact]
    public void Replacing_keeps_an_alias_the_administrator_chose()
    {
        var t0 = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        Importer.Import(File(issuedAt: t0));
        Licenses.SetAlias("L1", "Production");

        Importer.Import(File(issuedAt: t0.AddDays(1), items: [LicenseFiles.Item("I1", quantity: 50)]));

        Assert.Equal("Production", Licenses.Get("L1").Alias);
    }

    private DateTimeOffset ReadUpdateTime(string code) =>
        _store.Read(connection => LicenseCatalog.HandshakeUpdateTime(connection, null, code));
}
