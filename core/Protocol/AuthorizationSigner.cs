using System.Buffers;
using System.Security.Cryptography;
using System.Text;
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
    // Per thread, reused by every Sign on it: the claims' bytes and their writer (never shared across an await).
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_claims;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private readonly byte[] _privateKey;
    private readonly ThreadLocal<ECDsa> _keys;
    private readonly byte[] _encodedHeader;

    public AuthorizationSigner(ServerService server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var info = server.Get();
        ServerUuid = info.Uuid;
        KeyId = EcKeys.KeyId(info.PublicKeyDer());
        _encodedHeader = AuthorizationTokens.EncodedHeader(KeyId);
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
    /// <remarks>
    /// The claims are written in a fixed order with <see cref="Utf8JsonWriter"/> into a buffer kept per thread (the
    /// method never awaits), with the default encoder: the same bytes a serialized dictionary of them gave, without
    /// its reflection, boxing and strings.
    /// </remarks>
    public string Sign(AuthGrant grant, string clientUuid)
    {
        ArgumentNullException.ThrowIfNull(grant);
        var buffer = t_claims ??= new ArrayBufferWriter<byte>(512);
        buffer.Clear();
        var json = t_writer;
        if (json is null)
        {
            json = t_writer = new Utf8JsonWriter(buffer);
        }
        else
        {
            json.Reset(buffer);
        }

        Span<byte> time = stackalloc byte[WireTimeLength];
        json.WriteStartObject();
        json.WriteString("serverUuid"u8, ServerUuid);
        json.WriteString("clientUuid"u8, clientUuid);
        json.WriteString("handshakeCode"u8, grant.HandshakeCode);
        json.WriteString("itemId"u8, grant.ItemId);
        json.WriteString("mode"u8, grant.Mode.ToString());
        FormatWireTime(grant.GrantedUntil, time);
        json.WriteString("grantedUntil"u8, time);
        FormatWireTime(grant.CacheUntil, time);
        json.WriteString("cacheUntil"u8, time);
        json.WriteNumber("reportIntervalSeconds"u8, grant.ReportIntervalSeconds);
        FormatWireTime(grant.HandshakeUpdateTime, time);
        json.WriteString("handshakeUpdateTime"u8, time);
        FormatWireTime(grant.ServerTime, time);
        json.WriteString("serverTime"u8, time);
        json.WriteString("iss"u8, ServerUuid);
        json.WriteString("sub"u8, clientUuid);
        json.WriteNumber("iat"u8, grant.ServerTime.ToUnixTimeSeconds());
        json.WriteNumber("exp"u8, grant.CacheUntil.ToUnixTimeSeconds());
        if (grant.Warning is not null)
        {
            json.WriteString("warning"u8, grant.Warning);
        }

        json.WriteEndObject();
        json.Flush();
        return AuthorizationTokens.Sign(_keys.Value!, _encodedHeader, buffer.WrittenSpan);
    }

    /// <summary>The length of a time on the wire: <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public const int WireTimeLength = 24;

    /// <summary>Times on the wire: ISO-8601 UTC with milliseconds and 'Z'.</summary>
    public static string WireTime(DateTimeOffset time)
    {
        Span<byte> utf8 = stackalloc byte[WireTimeLength];
        FormatWireTime(time, utf8);
        return Encoding.ASCII.GetString(utf8);
    }

    /// <summary>
    /// <see cref="WireTime"/> as ASCII into <paramref name="destination"/> (<see cref="WireTimeLength"/> bytes), digit
    /// by digit: the custom format string it replaces was the costliest part of an answer after the signature.
    /// Milliseconds are truncated, as the format's <c>fff</c> did.
    /// </summary>
    public static void FormatWireTime(DateTimeOffset time, Span<byte> destination)
    {
        var utc = time.UtcDateTime;
        var d = destination[..WireTimeLength];
        Digits(d[..4], utc.Year);
        d[4] = (byte)'-';
        Digits(d.Slice(5, 2), utc.Month);
        d[7] = (byte)'-';
        Digits(d.Slice(8, 2), utc.Day);
        d[10] = (byte)'T';
        Digits(d.Slice(11, 2), utc.Hour);
        d[13] = (byte)':';
        Digits(d.Slice(14, 2), utc.Minute);
        d[16] = (byte)':';
        Digits(d.Slice(17, 2), utc.Second);
        d[19] = (byte)'.';
        Digits(d.Slice(20, 3), utc.Millisecond);
        d[23] = (byte)'Z';
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }

        _keys.Dispose();
    }
}
