using Dls.Core.Crypto;
using Dls.Core.Errors;
using Dls.Core.Server;
using Dls.Core.Storage;

namespace Dls.Core.Tests;

public sealed class ServerServiceTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Initialize_creates_a_uuid_a_P256_key_and_the_defaults()
    {
        var server = new ServerService(_temp.Open(), _temp.Clock).Initialize("216998", force: false);

        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", server.Uuid);
        Assert.Equal("216998", server.OrganizationId);
        Assert.Equal(ServerRole.Main, server.Role);
        Assert.Equal(ServerService.DefaultMainServerUrl, server.MainServerUrl);
        Assert.Equal(string.Empty, server.StandbyServerUrl);
        Assert.Equal(_temp.Path, server.StorePath);
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----", server.PublicKey);
        Assert.Equal(_temp.Clock.GetUtcNow().UtcDateTime, server.CreatedAt);
    }

    [Fact]
    public void The_signing_key_matches_the_published_public_key()
    {
        var service = new ServerService(_temp.Open(), _temp.Clock);
        var server = service.Initialize(null, force: false);
        using var key = service.LoadSigningKey();
        var data = "hello"u8.ToArray();
        var signature = key.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256);

        using var verifier = EcKeys.Create();
        verifier.ImportSubjectPublicKeyInfo(server.PublicKeyDer(), out _);
        Assert.True(verifier.VerifyData(data, signature, System.Security.Cryptography.HashAlgorithmName.SHA256));
    }

    [Fact]
    public void Initialize_on_an_existing_store_returns_it_unchanged()
    {
        var first = new ServerService(_temp.Open(), _temp.Clock).Initialize("216998", force: false);
        var second = new ServerService(DlsStore.Open(_temp.Path), _temp.Clock).Initialize("999", force: false);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Force_gives_a_store_without_licenses_a_new_identity()
    {
        var service = new ServerService(_temp.Open(), _temp.Clock);
        var first = service.Initialize("216998", force: false);
        var second = service.Initialize("216998", force: true);

        Assert.NotEqual(first.Uuid, second.Uuid);
        Assert.NotEqual(first.PublicKey, second.PublicKey);
    }

    [Fact]
    public void Set_changes_only_what_is_given_and_normalises_urls()
    {
        var service = new ServerService(_temp.Open(), _temp.Clock);
        var before = service.Initialize("216998", force: false);

        var after = service.Set(null, "https://dls.example.com:8443", "http://standby.example.com/dls", ServerRole.Standby);

        Assert.Equal(before.Uuid, after.Uuid);
        Assert.Equal("216998", after.OrganizationId);
        Assert.Equal("https://dls.example.com:8443/", after.MainServerUrl);
        Assert.Equal("http://standby.example.com/dls/", after.StandbyServerUrl);
        Assert.Equal(ServerRole.Standby, after.Role);
        Assert.Equal(string.Empty, service.Set(null, null, string.Empty, null).StandbyServerUrl);
    }

    [Theory]
    [InlineData("ftp://dls.example.com/")]
    [InlineData("dls.example.com")]
    [InlineData("http://dls.example.com/?a=1")]
    public void Set_refuses_a_bad_url_and_changes_nothing(string url)
    {
        var service = new ServerService(_temp.Open(), _temp.Clock);
        var before = service.Initialize("216998", force: false);

        var error = Assert.Throws<DlsException>(() => service.Set("1", url, null, null));

        Assert.Equal("ServerUrlInvalid", error.ErrorId);
        Assert.Equal(before, service.Get());
    }

    [Theory]
    [InlineData("")]
    [InlineData("216-998")]
    [InlineData("a b")]
    public void A_bad_organization_id_is_refused(string organizationId)
    {
        var service = new ServerService(_temp.Open(), _temp.Clock);
        var error = Assert.Throws<DlsException>(() => service.Initialize(organizationId, force: false));
        Assert.Equal("OrganizationIdInvalid", error.ErrorId);
    }

    [Fact]
    public void Changes_are_audited()
    {
        var store = _temp.Open();
        var service = new ServerService(store, _temp.Clock);
        var server = service.Initialize("216998", force: false);
        service.Set("777", null, null, null);

        var entries = Audit.AuditLog.Read(store, null);
        Assert.Equal(["Server.Initialize", "Server.Set"], entries.Select(e => e.Action));
        Assert.All(entries, e => Assert.Equal(server.Uuid, e.Target));
        Assert.Contains("organizationId=777", entries[1].Details);
    }
}
