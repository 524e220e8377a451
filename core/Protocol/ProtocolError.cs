using Dls.Core.Errors;

namespace Dls.Core.Protocol;

/// <summary>The error codes SDK clients see (SPEC §4), with the HTTP status the listener answers them with.</summary>
public static class ErrorCodes
{
    public const int Standby = 100;
    public const int CodeNotFound = 101;
    public const int WrongSessionPassword = 102;
    public const int NotAllowed = 103;
    public const int NoMatchingItem = 104;
    public const int NoGrant = 105;
    public const int Expired = 111;
    public const int NotYetEffective = 112;
    public const int Revoked = 113;
    public const int QuotaUsedUp = 120;
    public const int NoDefaultCode = 121;
    public const int CodeNotInOrganization = 122;
    public const int NoCodeOrOrganization = 123;
    public const int CountQuotaUsedUp = 130;
    public const int CloneSuspected = 151;
    public const int Malformed = 400;
    public const int TooLarge = 413;
    public const int RateLimited = 429;

    /// <summary>The HTTP status for an error code (docs/protocol.md lists them).</summary>
    public static int HttpStatus(int errorCode) => errorCode switch
    {
        Malformed or NoCodeOrOrganization => 400,
        WrongSessionPassword => 401,
        NotAllowed or Expired or NotYetEffective or Revoked or CodeNotInOrganization => 403,
        CodeNotFound or NoDefaultCode or NoMatchingItem or NoGrant => 404,
        QuotaUsedUp or CountQuotaUsedUp or CloneSuspected => 409,
        TooLarge => 413,
        RateLimited => 429,
        Standby => 503,
        _ => 400,
    };
}

/// <summary>A refusal: the wire's <c>{errorCode, message}</c>.</summary>
public sealed record ProtocolError(int ErrorCode, string Message);

/// <summary>
/// Thrown for malformed or oversized input before anything is written (400 / 413). Part of the DlsException family:
/// <see cref="DlsException.ErrorId"/> is <c>RequestTooLarge</c> for 413 and <c>RequestMalformed</c> otherwise;
/// <see cref="ErrorCode"/> is what the wire answers.
/// </summary>
public sealed class ProtocolException(int errorCode, string message) : DlsException(
    errorCode == ErrorCodes.TooLarge ? ErrorIds.RequestTooLarge : ErrorIds.RequestMalformed,
    errorCode == ErrorCodes.TooLarge ? DlsErrorKind.LimitsExceeded : DlsErrorKind.InvalidData,
    message)
{
    public int ErrorCode { get; } = errorCode;

    public ProtocolError ToError() => new(ErrorCode, Message);
}
