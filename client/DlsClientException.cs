using System;

namespace Dls.Client;

/// <summary>
/// An authorization that could not be had: the server refused it (<see cref="ErrorCode"/> is the server's errorCode,
/// SPEC §4: 101 unknown code, 120 quota used up, ...) or no server answered and no valid cached authorization exists
/// (<see cref="ErrorCode"/> is <see cref="Unreachable"/>).
/// </summary>
public sealed class DlsClientException : Exception
{
    /// <summary>No server answered (connection refused, timeout, 5xx, a standby that defers) and the cache holds no valid authorization.</summary>
    public const int Unreachable = 0;

    /// <summary>The server's answer did not verify with the license key's server public key (a wrong key, or not a DLS server).</summary>
    public const int InvalidToken = 1;

    /// <summary>An exception with the server's (or the client's) error code.</summary>
    public DlsClientException(int errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The server's errorCode, or <see cref="Unreachable"/> / <see cref="InvalidToken"/>.</summary>
    public int ErrorCode { get; }

    /// <summary>Seconds the server asked to wait (HTTP 429), when it did.</summary>
    public int? RetryAfterSeconds { get; internal set; }
}
