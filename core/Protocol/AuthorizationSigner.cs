using System.Security.Cryptography;
using System.Text.Json;
using Dls.Core.Crypto;
using Dls.Core.Server;

namespace Dls.Core.Protocol;

/// <summary>
/// Signs authorization tokens with the server key. The key is read from the store once; each thread gets its own
/// ECDsa over it (an ECDsa instance is not meant to be shared by concurrent signers).
/// </summary>
public sealed class AuthorizationSigner : IDisposable
{
    private readonly byte[] _privateKey;
    private readonly ThreadLocal<ECDsa> _keys;

    public AuthorizationSigner(ServerService server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var info = server.Get();
        ServerUuid = info.Uuid;
        KeyId = EcKeys.KeyId(info.PublicKeyDer());
        using (var key = server.LoadSigningKey())
        {
            _privateKey = key.ExportPkcs8PrivateKey();
        }

        _keys = new ThreadLocal<ECDsa>(() =>
        {
            var key = EcKeys.Create();
            key.ImportPkcs8PrivateKey(_privateKey, out _);
            return key;
        }, trackAllValues: true);
    }

    public string ServerUuid { get; }

    public string KeyId { get; }

    /// <summary>
    /// The token: the answer's fields plus clientUuid and serverUuid, and the registered claims iat, exp
    /// (= cacheUntil) and sub (= clientUuid) so generic JWT libraries can check it too.
    /// </summary>
    public string Sign(AuthGrant grant, string clientUuid)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var claims = new Dictionary<string, object?>
        {
            ["serverUuid"] = ServerUuid,
            ["clientUuid"] = clientUuid,
            ["handshakeCode"] = grant.HandshakeCode,
            ["itemId"] = grant.ItemId,
            ["mode"] = grant.Mode.ToString(),
            ["grantedUntil"] = WireTime(grant.GrantedUntil),
            ["cacheUntil"] = WireTime(grant.CacheUntil),
            ["reportIntervalSeconds"] = grant.ReportIntervalSeconds,
            ["handshakeUpdateTime"] = WireTime(grant.HandshakeUpdateTime),
            ["serverTime"] = WireTime(grant.ServerTime),
            ["iss"] = ServerUuid,
            ["sub"] = clientUuid,
            ["iat"] = grant.ServerTime.ToUnixTimeSeconds(),
            ["exp"] = grant.CacheUntil.ToUnixTimeSeconds(),
        };
        if (grant.Warning is not null)
        {
            claims["warning"] = grant.Warning;
        }

        return AuthorizationTokens.Sign(_keys.Value!, KeyId, JsonSerializer.SerializeToUtf8Bytes(claims));
    }

    /// <summary>Times on the wire: ISO-8601 UTC with milliseconds and 'Z'.</summary>
    public static string WireTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }

        _keys.Dispose();
    }
}
