using System.Globalization;
using Dls.Core.Errors;
using Dls.Core.Protocol;
using Dls.Core.Storage;
using Dls.Listener.Protocol;
using Microsoft.AspNetCore.Diagnostics;

namespace Dls.Listener.Hosting;

/// <summary>
/// The one place where an exception becomes an answer (SPEC §4: <c>{errorCode, message}</c>, the HTTP status by code).
/// Endpoints throw and never catch to answer: malformed input (<see cref="ProtocolException"/>) is the client's doing
/// and answered 400/413 without a log line; a store that cannot be used is 503 (with Retry-After when waiting may
/// help); anything else is a fault of the listener, answered 500 with a generic message and logged once, with its
/// stack trace, for the administrator.
/// </summary>
public sealed class DlsExceptionHandler(ILogger<DlsExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>The message of every 503 for a store that cannot be used: clients see no path and no engine detail.</summary>
    public const string StoreUnavailableMessage = "The store is unavailable; nothing was recorded. Retry later.";

    /// <summary>The message of every 500: what failed is in the listener's log, not in the answer.</summary>
    public const string InternalErrorMessage = "The listener failed to answer this request; the administrator finds the reason in its log.";

    /// <summary>How long a client waits before it retries a store that is busy or could not be opened.</summary>
    public static readonly TimeSpan StoreRetryAfter = DlsStore.BusyTimeout;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, message, retryAfter) = Answer(httpContext, exception);
        var response = httpContext.Response;
        if (httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client is gone (a body cut off, a connection dropped): there is no one to answer, and nothing to log.
            return true;
        }

        response.StatusCode = status;
        if (retryAfter is { } after)
        {
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        // errorCode is the SDK's code for a protocol refusal and the HTTP status for every other error (400, 413, 503, 500).
        var errorCode = exception is ProtocolException protocol ? protocol.ErrorCode : status;
        try
        {
            await response.WriteAsJsonAsync(new ProtocolResults.ErrorAnswer(errorCode, message), cancellationToken);
        }
        catch (Exception error) when (error is IOException or OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client left while the answer was written.
        }

        return true;
    }

    private (int Status, string Message, TimeSpan? RetryAfter) Answer(HttpContext http, Exception exception)
    {
        switch (exception)
        {
            // First: whether or not ProtocolException is a DlsException, it is the client's input that failed.
            case ProtocolException protocol:
                return (ErrorCodes.HttpStatus(protocol.ErrorCode), protocol.Message, null);

            case BadHttpRequestException bad:
                return bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? (StatusCodes.Status413PayloadTooLarge, "The body is larger than this endpoint takes.", null)
                    : (StatusCodes.Status400BadRequest, $"The request could not be read: {bad.Message}", null);

            case DlsException error when StoreFailures.IsStoreWide(error) || error.Kind == DlsErrorKind.ResourceUnavailable:
                return StoreUnusable(http, error);

            // Core translates engine failures; one that still escapes (a commit of the writer, say) is the store's all the same.
            case Exception engine when DlsStore.IsEngineFailure(engine) && http.RequestServices.GetService<DlsStore>() is { } store:
                return StoreUnusable(http, (DlsException)store.Translate(engine));

            default:
                logger.LogError(exception, "{Method} {Path} failed and was answered 500", http.Request.Method, http.Request.Path.Value);
                return (StatusCodes.Status500InternalServerError, InternalErrorMessage, null);
        }
    }

    private (int Status, string Message, TimeSpan? RetryAfter) StoreUnusable(HttpContext http, DlsException error)
    {
        // The ErrorId and the sentence say what to do; a stack trace would only hide them.
        logger.LogError("{Method} {Path} was answered 503: {ErrorId}: {Message}", http.Request.Method, http.Request.Path.Value, error.ErrorId, error.Message);

        // Waiting helps a busy store or one that could not be opened for a moment; read-only, full or damaged needs the administrator.
        var transient = error.Kind == DlsErrorKind.ResourceUnavailable;
        return (StatusCodes.Status503ServiceUnavailable, StoreUnavailableMessage, transient ? StoreRetryAfter : null);
    }
}
