using System.Text;
using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Licensing;
using Dls.Core.Server;
using Dls.Core.Storage;

using Dls.Tests;

namespace Dls.Core.Tests.Licensing;

public sealed class HandshakeCodeTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly LicenseFiles _files = new();
    private readonly DlsStore _store;
    private readonly ServerInfo _server;

    public HandshakeCodeTests()
    {
        _store = _temp.Open();
        _server = new ServerService(_store, _temp.Clock).Initialize("216998", force: false);
        new TrustedIssuerService(_store, _temp.Clock).Add("Vendor", _files.IssuerPublicKeyPem);
        new LicenseImporter(_store, _temp.Clock).Import(_files.Bytes(LicenseFiles.Document(_server.Uuid, items: [
            LicenseFiles.Item("A", "2027-01-01"), LicenseFiles.Item("B", "2027-06-01"), LicenseFiles.Item("C", "2028-01-01")])));
    }

    public void Dispose()
    {
        _files.Dispose();
        _temp.Dispose();
    }

    private HandshakeCodeService Codes => new(_store, _temp.Clock);

    private static LicenseItem Item(string id, string expiration, string start = "2026-01-01") =>
        LicenseFiles.Item(id, expiration, start: start).ToItem("L");

    [Fact]
    public void Default_order_is_nearest_expiry_first_then_start_then_id()
    {
        var order = CodeOrder.Default([Item("z", "2027-05-01"), Item("b", "2027-01-01", "2026-06-01"), Item("a", "2027-01-01", "2026-06-01"), Item("c", "2027-01-01", "2026-01-01")]);

        Assert.Equal(["c", "a", "b", "z"], order.Select(i => i.ItemId));
    }

    [Fact]
    public void Merge_keeps_the_chosen_order_and_slots_new_items_in_by_expiry()
    {
        // The administrator put the long item first on purpose.
        var current = new[] { Item("long", "2029-01-01"), Item("short", "2027-01-01") };

        var merged = CodeOrder.Merge(current, [Item("mid", "2028-01-01"), Item("short", "2027-01-01"), Item("last", "2030-01-01")]);

        Assert.Equal(["mid", "long", "short", "last"], merged.Select(i => i.ItemId));
    }

    [Fact]
    public void The_first_code_is_the_default_and_Default_moves_it()
    {
        var first = Codes.Create("one");
        var second = Codes.Create("two");
        Assert.True(first.IsDefault);
        Assert.False(second.IsDefault);
        Assert.Equal("216998-one", first.Code);

        Codes.Set("216998-two", new HandshakeCodeChanges { IsDefault = true });

        Assert.False(Codes.Get("216998-one").IsDefault);
        Assert.True(Codes.Get("216998-two").IsDefault);
        var third = Codes.Create("three", makeDefault: true);
        Assert.True(third.IsDefault);
        Assert.Single(Codes.List(), c => c.IsDefault);
    }

    [Fact]
    public void Removing_the_default_leaves_the_organization_without_one_until_another_is_made_default()
    {
        Codes.Create("one");
        Codes.Create("two");

        Codes.Remove("216998-one");
        Codes.Create("three");

        Assert.Null(_store.Read(c => LicenseCatalog.FindDefaultCode(c, null, "216998")));
        Codes.Set("216998-three", new HandshakeCodeChanges { IsDefault = true });
        Assert.Equal("216998-three", _store.Read(c => LicenseCatalog.FindDefaultCode(c, null, "216998"))!.Code);
    }

    [Fact]
    public void Disabling_the_default_keeps_it_default_but_disabled()
    {
        Codes.Create("one");
        Codes.Set("216998-one", new HandshakeCodeChanges { Enabled = false });

        var code = _store.Read(c => LicenseCatalog.FindDefaultCode(c, null, "216998"))!;
        Assert.False(code.Enabled);
    }

    [Fact]
    public void Items_keep_the_given_order_and_Add_Remove_edit_it()
    {
        Codes.Create("app", itemIds: ["C", "A"]);
        Assert.Equal(["C", "A"], Codes.Get("216998-app").ItemIds);

        // B (2027-06) goes before the first item that expires later: C (2028).
        Codes.Set("216998-app", new HandshakeCodeChanges { AddItemIds = ["B"], RemoveItemIds = ["C"] });
        Assert.Equal(["B", "A"], Codes.Get("216998-app").ItemIds);

        Codes.Set("216998-app", new HandshakeCodeChanges { ItemIds = ["B", "C"] });
        Assert.Equal(["B", "C"], Codes.Get("216998-app").ItemIds);
    }

    [Fact]
    public void Unknown_items_names_and_codes_are_refused_and_change_nothing()
    {
        Codes.Create("app");
        var before = StoreDigest.Of(_temp.Path);

        Assert.Equal("LicenseItemNotFound", Assert.Throws<DlsException>(() => Codes.Create("x", itemIds: ["NOPE"])).ErrorId);
        Assert.Equal("HandshakeCodeExists", Assert.Throws<DlsException>(() => Codes.Create("app")).ErrorId);
        Assert.Equal("HandshakeCodeNameInvalid", Assert.Throws<DlsException>(() => Codes.Create("bad name")).ErrorId);
        Assert.Equal("HandshakeCodeNotFound", Assert.Throws<DlsException>(() => Codes.Set("216998-nope", new HandshakeCodeChanges { Enabled = false })).ErrorId);
        Assert.Equal("ItemNotInCode", Assert.Throws<DlsException>(() => Codes.Set("216998-app", new HandshakeCodeChanges { RemoveItemIds = ["A"] })).ErrorId);
        Assert.Equal("AllowedValueInvalid", Assert.Throws<DlsException>(() => Codes.Set("216998-app", new HandshakeCodeChanges { AllowedDomains = ["not a host"] })).ErrorId);
        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void A_set_that_changes_no_value_writes_nothing()
    {
        Codes.Create("app", itemIds: ["A"], description: "d");
        var before = StoreDigest.Of(_temp.Path);
        _temp.Clock.Advance(TimeSpan.FromMinutes(1));

        Codes.Set("216998-app", new HandshakeCodeChanges { ItemIds = ["A"], Description = "d", Enabled = true });

        Assert.Equal(before, StoreDigest.Of(_temp.Path));
    }

    [Fact]
    public void Validation_values_are_normalised_and_kept()
    {
        var code = Codes.Create("web", allowedDomains: ["Example.COM", "*.example.org"], allowedAppIds: ["com.acme.app"], allowedProcessNames: ["scan.exe"]);

        Assert.Equal(["example.com", "*.example.org"], code.AllowedDomains);
        Assert.Equal(["com.acme.app"], code.AllowedAppIds);
        Assert.Equal(["scan.exe"], code.AllowedProcessNames);
        Assert.Empty(Codes.Set(code.Code, new HandshakeCodeChanges { AllowedDomains = [] }).AllowedDomains);
    }

    [Fact]
    public void The_session_password_is_stored_only_as_a_salted_hash()
    {
        const string password = "Sw0rdfish-unique-7731";
        Codes.Create("app", sessionPassword: password);
        var code = Codes.Get("216998-app");
        Assert.True(code.HasSessionPassword);
        Assert.StartsWith("pbkdf2-sha256$", code.PasswordHash);

        // Closing every connection folds the WAL into the file; nothing opens this store again, so no file comes or
        // goes while it is read (other tests clear the pools in parallel, which would otherwise delete a WAL mid-scan).
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(_temp.Folder))
        {
            var bytes = System.IO.File.ReadAllBytes(file);
            Assert.DoesNotContain(password, Encoding.UTF8.GetString(bytes));
            Assert.DoesNotContain(password, Encoding.Unicode.GetString(bytes));
        }
    }

    [Fact]
    public void The_license_key_decodes_to_the_code_organization_urls_and_server_key()
    {
        Codes.Create("app");

        var result = Codes.LicenseKey("216998-app", null);
        var content = LicenseKey.Decode(result.Key);

        Assert.StartsWith("DLS2", result.Key);
        Assert.False(result.PasswordOmitted);
        Assert.Equal("216998-app", content.HandshakeCode);
        Assert.Equal("216998", content.OrganizationId);
        Assert.Equal(ServerService.DefaultMainServerUrl, content.MainServerUrl);
        Assert.Equal(string.Empty, content.StandbyServerUrl);
        Assert.Null(content.SessionPassword);
        Assert.Equal(_server.PublicKeyDer(), Convert.FromBase64String(content.ServerPublicKey));
    }

    [Fact]
    public void The_license_key_embeds_a_session_password_only_when_it_matches()
    {
        Codes.Create("app", sessionPassword: "right");

        Assert.True(Codes.LicenseKey("216998-app", null).PasswordOmitted);
        Assert.Equal("right", LicenseKey.Decode(Codes.LicenseKey("216998-app", "right").Key).SessionPassword);
        Assert.Equal("SessionPasswordMismatch", Assert.Throws<DlsException>(() => Codes.LicenseKey("216998-app", "wrong")).ErrorId);

        Codes.Set("216998-app", new HandshakeCodeChanges { SessionPassword = string.Empty });
        Assert.False(Codes.Get("216998-app").HasSessionPassword);
        Assert.Equal("SessionPasswordNotSet", Assert.Throws<DlsException>(() => Codes.LicenseKey("216998-app", "right")).ErrorId);
    }

    [Fact]
    public void Codes_need_an_organization()
    {
        using var temp = new TempStore();
        var store = temp.Open();
        new ServerService(store, temp.Clock).Initialize(null, force: false);

        Assert.Equal("OrganizationNotSet", Assert.Throws<DlsException>(() => new HandshakeCodeService(store, temp.Clock).Create("app")).ErrorId);
    }

    [Fact]
    public void Changes_move_the_codes_handshake_update_time()
    {
        Codes.Create("app", itemIds: ["A"]);
        var before = _store.Read(c => LicenseCatalog.HandshakeUpdateTime(c, null, "216998-app"));
        _temp.Clock.Advance(TimeSpan.FromMinutes(1));

        Codes.Set("216998-app", new HandshakeCodeChanges { AllowedProcessNames = ["x.exe"] });

        Assert.Equal(_temp.Clock.GetUtcNow(), _store.Read(c => LicenseCatalog.HandshakeUpdateTime(c, null, "216998-app")));
        Assert.True(_temp.Clock.GetUtcNow() > before);
    }
}
