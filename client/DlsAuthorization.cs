using System;

namespace Dls.Client;

/// <summary>
/// A granted authorization: the server's answer, read from its signed token (verified with the license key's server
/// public key), so a cached one says exactly what the server said.
/// </summary>
public sealed class DlsAuthorization
{
    internal DlsAuthorization(
        string product, string itemId, string mode, DateTimeOffset grantedUntil, DateTimeOffset cacheUntil, int reportIntervalSeconds,
        DateTimeOffset handshakeUpdateTime, DateTimeOffset serverTime, string? warning, string token, bool fromCache, Uri? server)
    {
        Product = product;
        ItemId = itemId;
        Mode = mode;
        GrantedUntil = grantedUntil;
        CacheUntil = cacheUntil;
        ReportIntervalSeconds = reportIntervalSeconds;
        HandshakeUpdateTime = handshakeUpdateTime;
        ServerTime = serverTime;
        Warning = warning;
        Token = token;
        FromCache = fromCache;
        Server = server;
    }

    /// <summary>The product the application asked for.</summary>
    public string Product { get; }

    /// <summary>The license item that grants it; usage of the product is recorded against it.</summary>
    public string ItemId { get; }

    /// <summary>The item's license mode (<c>PerDeviceYearly</c>, <c>PerScan</c>, ...).</summary>
    public string Mode { get; }

    /// <summary>When the grant lapses without further contact.</summary>
    public DateTimeOffset GrantedUntil { get; }

    /// <summary>How long the application may work from this authorization without reaching the server.</summary>
    public DateTimeOffset CacheUntil { get; }

    /// <summary>How often usage is reported, in seconds.</summary>
    public int ReportIntervalSeconds { get; }

    /// <summary>The last change to the handshake code or its items when the server answered.</summary>
    public DateTimeOffset HandshakeUpdateTime { get; }

    /// <summary>The server's clock when it answered.</summary>
    public DateTimeOffset ServerTime { get; }

    /// <summary>The server's warning (grace period, tolerance in use), if any.</summary>
    public string? Warning { get; }

    /// <summary>The compact ES256 token the server signed.</summary>
    public string Token { get; }

    /// <summary>True when no server answered and the authorization came from the on-disk cache.</summary>
    public bool FromCache { get; }

    /// <summary>The server that answered (null when from the cache).</summary>
    public Uri? Server { get; }

    internal DlsAuthorization FromTheCache() =>
        new(Product, ItemId, Mode, GrantedUntil, CacheUntil, ReportIntervalSeconds, HandshakeUpdateTime, ServerTime, Warning, Token, fromCache: true, server: null);
}
