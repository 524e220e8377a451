using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

using Dls.Tests;

namespace Dls.Core.Tests.Licensing;

/// <summary>SPEC §7 "Issuers own their licenses": with two trusted issuers, neither can speak for the other's licenses.</summary>
public sealed class LicenseOwnershipTests : IDisposable
{
    private static readonly DateTimeOffset First = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Later = First.AddDays(30);

    private readonly TempStore _temp = new();
    private readonly LicenseFiles _vendor = new();
    private readonly LicenseFiles _rival = new();
    private readonly DlsStore _store;
    private readonly string _uuid;

    public LicenseOwnershipTests()
    {
        _store = _temp.Open();
        _uuid = new ServerService(_store, _temp.Clock).Initialize(organizationId: null, force: false).Uuid;
        var issuers = new TrustedIssuerService(_store, _temp.Clock);
        issuers.Add("Vendor", _vendor.IssuerPublicKeyPem);
        issuers.Add("Rival", _rival.IssuerPublicKeyPem);
    }

    public void Dispose()
    {
        _vendor.Dispose();
        _rival.Dispose();
        _temp.Dispose();
    }

    private LicenseImporter Importer => new(_store, _temp.Clock);

    private byte[] File(LicenseFiles issuer, string licenseId, DateTimeOffset issuedAt, params LicenseItemSpec[] items) =>
        issuer.Bytes(LicenseFiles.Document(_uuid, licenseId, "216998", issuedAt, items));

    private void AssertRefusedUnchanged(string errorId, byte[] file)
    {
        var before = StoreDigest.Of(_temp.Path);
        var error = Assert.Throws<DlsException>(() => Importer.Import(file));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(DlsErrorKind.SecurityError, error.Kind);
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void A_second_issuers_newer_file_for_the_first_issuers_license_is_refused_and_changes_nothing()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1", quantity: 10)), newCodeName: "app");

        AssertRefusedUnchanged(LicenseImporter.OwnedByAnotherIssuer, File(_rival, "L1", Later, LicenseFiles.Item("I1", quantity: 1000)));

        var item = new LicenseService(_store, _temp.Clock).Items(itemId: "I1").Single();
        Assert.Equal(10, item.Quantity);
    }

    [Fact]
    public void A_second_issuer_cannot_claim_a_license_even_with_the_same_content()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1")));

        AssertRefusedUnchanged(LicenseImporter.OwnedByAnotherIssuer, File(_rival, "L1", First, LicenseFiles.Item("I1")));
    }

    [Fact]
    public void The_owning_issuers_newer_file_still_replaces_the_items()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1", quantity: 10)));

        var (plan, _) = Importer.Import(File(_vendor, "L1", Later, LicenseFiles.Item("I1", quantity: 20)));

        Assert.Equal(LicenseImportAction.Replace, plan.Action);
        Assert.Equal(_vendor.KeyId, plan.IssuerKeyId);
        Assert.Equal(20, new LicenseService(_store, _temp.Clock).Items(itemId: "I1").Single().Quantity);
    }

    [Fact]
    public void An_item_that_revokes_another_issuers_item_is_refused_and_changes_nothing()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1")));

        AssertRefusedUnchanged(LicenseImporter.RevokesForeignItem, File(_rival, "R1", First, LicenseFiles.Item("R-I1", revokes: "I1")));
    }

    [Fact]
    public void An_item_revoked_in_advance_by_another_issuer_is_refused_and_changes_nothing()
    {
        Importer.Import(File(_rival, "R1", First, LicenseFiles.Item("R-I1", revokes: "I1")));

        AssertRefusedUnchanged(LicenseImporter.RevokedByAnotherIssuer, File(_vendor, "L1", First, LicenseFiles.Item("I1")));
    }

    [Fact]
    public void An_issuer_still_revokes_its_own_items_in_another_license()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1")));

        Importer.Import(File(_vendor, "L2", Later, LicenseFiles.Item("I2", revokes: "I1")));

        var items = new LicenseService(_store, _temp.Clock).Items();
        Assert.All(items, item => Assert.Equal(ItemStatus.Revoked, item.Status));
    }

    [Fact]
    public void A_license_stays_with_its_issuer_after_the_issuer_is_removed()
    {
        Importer.Import(File(_vendor, "L1", First, LicenseFiles.Item("I1")));
        new TrustedIssuerService(_store, _temp.Clock).Remove(_vendor.KeyId);

        AssertRefusedUnchanged(LicenseImporter.OwnedByAnotherIssuer, File(_rival, "L1", Later, LicenseFiles.Item("I1")));

        // Removing the license is how an administrator hands its id to another issuer.
        new LicenseService(_store, _temp.Clock).Remove("L1");
        var (plan, _) = Importer.Import(File(_rival, "L1", Later, LicenseFiles.Item("I1")));
        Assert.Equal(_rival.KeyId, plan.IssuerKeyId);
    }
}
