using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dls.Core.Crypto;
using Dls.Core.Licensing;
using Dls.Core.Protocol;
using Dls.Core.Server;

namespace Dls.Core.Tests.Protocol;

/// <summary>
/// The token and the times on the wire are written by hand for speed; these pin their bytes to what the general
/// serializer and the format string wrote before, so a client that compares or re-parses them sees no difference.
/// </summary>
public sealed class AuthorizationTokenFormatTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(null)]
    [InlineData("Seats: 95% used <soon> & \"more\" — ünïcode")]
    public void Claims_and_header_are_the_bytes_a_serialized_dictionary_gives(string? warning)
    {
        var service = new ServerService(_temp.Initialized(), _temp.Clock);
        using var signer = new AuthorizationSigner(service);
        var now = new DateTimeOffset(2026, 11, 1, 12, 0, 0, 987, TimeSpan.FromHours(2)).AddTicks(6543);
        var grant = new AuthGrant("216998-app", "DBR-1", LicenseMode.PerDeviceYearly, now.AddDays(365), now.AddDays(7), 180, now.AddMinutes(-5), now, warning);

        var token = signer.Sign(grant, "client-\u00e9/1");

        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        var claims = new Dictionary<string, object?>
        {
            ["serverUuid"] = signer.ServerUuid,
            ["clientUuid"] = "client-\u00e9/1",
            ["handshakeCode"] = grant.HandshakeCode,
            ["itemId"] = grant.ItemId,
            ["mode"] = grant.Mode.ToString(),
            ["grantedUntil"] = FormatString(grant.GrantedUntil),
            ["cacheUntil"] = FormatString(grant.CacheUntil),
            ["reportIntervalSeconds"] = grant.ReportIntervalSeconds,
            ["handshakeUpdateTime"] = FormatString(grant.HandshakeUpdateTime),
            ["serverTime"] = FormatString(grant.ServerTime),
            ["iss"] = signer.ServerUuid,
            ["sub"] = "client-\u00e9/1",
            ["iat"] = grant.ServerTime.ToUnixTimeSeconds(),
            ["exp"] = grant.CacheUntil.ToUnixTimeSeconds(),
        };
        if (warning is not null)
        {
            claims["warning"] = warning;
        }

        Assert.Equal(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(claims)), Encoding.UTF8.GetString(Base64Url.Decode(parts[1])));
        var header = new Dictionary<string, string> { ["alg"] = "ES256", ["typ"] = "JWT", ["kid"] = signer.KeyId };
        Assert.Equal(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(header)), Encoding.UTF8.GetString(Base64Url.Decode(parts[0])));
        Assert.DoesNotContain('=', token);

        using var publicKey = EcKeys.Create();
        publicKey.ImportSubjectPublicKeyInfo(service.Get().PublicKeyDer(), out _);
        Assert.Equal(64, Base64Url.Decode(parts[2]).Length);
        using var verified = AuthorizationTokens.Verify(publicKey, token);
        Assert.NotNull(verified);
    }

    [Fact]
    public void Tokens_signed_on_many_threads_at_once_all_verify()
    {
        var service = new ServerService(_temp.Initialized(), _temp.Clock);
        using var signer = new AuthorizationSigner(service);
        using var publicKey = EcKeys.Create();
        publicKey.ImportSubjectPublicKeyInfo(service.Get().PublicKeyDer(), out _);
        var now = DateTimeOffset.UtcNow;

        var tokens = Enumerable.Range(0, 64).AsParallel().WithDegreeOfParallelism(8).Select(i =>
            (Client: $"client-{i}", Token: signer.Sign(new AuthGrant("216998-app", "DBR-1", LicenseMode.PerDeviceYearly, now, now, 180, now, now, i % 2 == 0 ? null : "w"), $"client-{i}"))).ToList();

        foreach (var (client, token) in tokens)
        {
            using var claims = AuthorizationTokens.Verify(publicKey, token);
            Assert.NotNull(claims);
            Assert.Equal(client, claims.RootElement.GetProperty("sub").GetString());
        }
    }

    [Fact]
    public void Wire_times_are_what_the_format_string_wrote()
    {
        var random = new Random(20261203);
        var times = new List<DateTimeOffset>
        {
            DateTimeOffset.MinValue,
            DateTimeOffset.MaxValue,
            new(999, 1, 2, 3, 4, 5, 6, TimeSpan.Zero),
            new(2026, 12, 31, 23, 59, 59, 999, TimeSpan.FromHours(-5)),
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(9_999),
        };
        for (var i = 0; i < 2000; i++)
        {
            var ticks = (long)(random.NextDouble() * (DateTime.MaxValue.Ticks - TimeSpan.TicksPerDay)) + TimeSpan.TicksPerDay / 2;
            times.Add(new DateTimeOffset(ticks, TimeSpan.FromMinutes(random.Next(-12 * 60, 12 * 60))));
        }

        foreach (var time in times)
        {
            Assert.Equal(FormatString(time), AuthorizationSigner.WireTime(time));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(300)]
    public void Base64url_encoding_is_plain_base64_with_the_url_alphabet_and_no_padding(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        bytes.AsSpan(0, Math.Min(length, 3)).Fill(0xFB);

        var expected = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        Assert.Equal(expected, Base64Url.Encode(bytes));
        Assert.Equal(bytes, Base64Url.Decode(Base64Url.Encode(bytes)));
    }

    /// <summary>How times were written before: the custom format string.</summary>
    private static string FormatString(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
