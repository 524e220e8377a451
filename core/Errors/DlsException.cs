namespace Dls.Core.Errors;

/// <summary>What went wrong, in terms both front ends can map: PowerShell to an ErrorCategory, the listener to an HTTP status.</summary>
public enum DlsErrorKind
{
    InvalidArgument,
    InvalidData,
    NotFound,
    AlreadyExists,
    InvalidOperation,
    SecurityError,
    PermissionDenied,
    ResourceUnavailable,
    LimitsExceeded,
}

/// <summary>
/// The one exception family that core throws for expected failures. <see cref="ErrorId"/> is stable:
/// scripts match it (for example <c>LicenseSignatureInvalid</c>), so never rename one.
/// </summary>
public class DlsException : Exception
{
    public DlsException(string errorId, DlsErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }

    public DlsErrorKind Kind { get; }

    /// <summary>The object the error is about (a path, a code, an item id), when there is one.</summary>
    public object? Target { get; }
}
