namespace Dls.Client.Tests;

/// <summary>What Create refuses before any request: a key that is not one, options out of range.</summary>
public sealed class CreateTests : IDisposable
{
    // A real key shape: the server key is a P-256 SubjectPublicKeyInfo.
    private static readonly string Key = Dls.Core.Licensing.LicenseKey.Encode(new Dls.Core.Licensing.LicenseKeyContent(
        "216998-app", "216998", "http://127.0.0.1:9/", string.Empty, null, Convert.ToBase64String(Dls.Core.Crypto.EcKeys.Create().ExportSubjectPublicKeyInfo())));

    private readonly string _cache = Directory.CreateTempSubdirectory("dls-client-create-").FullName;

    [Theory]
    [InlineData("", "starts with 'DLS2'")]
    [InlineData("DLS2!!!", "not base64 of a JSON object")]
    [InlineData("DLS2e30=", "no handshakeCode")]
    public void A_string_that_is_not_a_license_key_is_refused_saying_why(string key, string why)
    {
        var refused = Assert.Throws<FormatException>(() => DlsClient.Create(key, new DlsApplication("app"), Options()));
        Assert.Contains(why, refused.Message);
    }

    [Fact]
    public void A_key_whose_server_key_is_not_P256_is_refused()
    {
        using var rsa = System.Security.Cryptography.RSA.Create();
        var key = Dls.Core.Licensing.LicenseKey.Encode(new Dls.Core.Licensing.LicenseKeyContent(
            "216998-app", "216998", "http://127.0.0.1:9/", string.Empty, null, Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())));
        var refused = Assert.Throws<FormatException>(() => DlsClient.Create(key, new DlsApplication("app"), Options()));
        Assert.Contains("P-256", refused.Message);
    }

    [Fact]
    public void Options_out_of_range_are_refused_and_nothing_is_created()
    {
        Assert.Throws<ArgumentException>(() => DlsClient.Create(Key, new DlsApplication("app"), Options(o => o.RequestTimeout = TimeSpan.Zero)));
        Assert.Throws<ArgumentException>(() => DlsClient.Create(Key, new DlsApplication("app"), Options(o => o.MaxBackoff = TimeSpan.FromMilliseconds(1))));
        Assert.Throws<ArgumentException>(() => DlsClient.Create(Key, new DlsApplication("app"), Options(o => o.DisposeTimeout = TimeSpan.FromSeconds(-1))));
        Assert.Empty(Directory.GetFileSystemEntries(_cache));
    }

    [Fact]
    public void A_valid_key_gives_a_client_with_a_device_id_kept_for_the_next_one()
    {
        using var first = DlsClient.Create(Key, new DlsApplication("app"), Options());
        using var second = DlsClient.Create(Key, new DlsApplication("other app"), Options());

        Assert.True(Guid.TryParseExact(first.DeviceUuid, "D", out _));
        Assert.Equal(first.DeviceUuid, second.DeviceUuid);
        Assert.NotEqual(first.CacheFolder, second.CacheFolder);
        Assert.Equal($"{first.DeviceUuid}\n", File.ReadAllText(Path.Combine(_cache, "device-id")));
    }

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private DlsClientOptions Options(Action<DlsClientOptions>? configure = null)
    {
        var options = new DlsClientOptions { CacheFolder = _cache, ReportInBackground = false };
        configure?.Invoke(options);
        return options;
    }
}
