using System.Buffers;
using Dls.Core.Protocol;
using Microsoft.AspNetCore.Http.Features;

namespace Dls.Listener.Protocol;

/// <summary>
/// Body reading with the protocol's limits, and the <c>{errorCode, message}</c> answers of refusals. Errors
/// (malformed input, a store that cannot be used, faults) are thrown and answered by <see cref="Hosting.DlsExceptionHandler"/>.
/// </summary>
public static class ProtocolResults
{
    // Most bodies (an auth, a small report) fit at once; larger ones grow from here by doubling.
    private const int InitialBufferBytes = 4096;

    public sealed record ErrorAnswer(int ErrorCode, string Message);

    /// <param name="retryAfter">For a rate-limited request: sent as the Retry-After header, in whole seconds.</param>
    public static IResult Error(ProtocolError error, TimeSpan? retryAfter = null)
    {
        var answer = Results.Json(new ErrorAnswer(error.ErrorCode, error.Message), statusCode: ErrorCodes.HttpStatus(error.ErrorCode));
        return retryAfter is { } after ? new WithRetryAfter(answer, after) : answer;
    }

    /// <summary>
    /// Reads and parses a request body. A body that cannot be read or parsed counts against the client's address (the
    /// rate limits' failures) and its <see cref="ProtocolException"/> goes on to the exception handler, which answers it.
    /// </summary>
    public static async Task<T> ReadAsync<T>(HttpContext http, ProtocolService protocol, int limit, Func<ReadOnlyMemory<byte>, T> parse, CancellationToken cancellationToken)
    {
        try
        {
            using var body = await ReadBodyAsync(http, limit, cancellationToken);
            return parse(body.Memory);
        }
        catch (ProtocolException)
        {
            protocol.Malformed(http.Connection.RemoteIpAddress);
            throw;
        }
    }

    /// <summary>
    /// Reads the whole body into a pooled buffer that grows (doubling) as bytes arrive, refusing (413) one larger than
    /// <paramref name="limit"/> before reading it when the Content-Length says so, and as soon as the count passes the
    /// limit otherwise (chunked bodies). The buffer never follows the announced length: a client that announces
    /// 1 MiB and sends 10 bytes costs 10 bytes' worth of buffer. The caller disposes the result.
    /// </summary>
    /// <remarks>
    /// Every way a body can fail to arrive (cut off, too slow, the connection gone) becomes a
    /// <see cref="ProtocolException"/>: it is the client's doing, so it is answered (if anyone still listens) and
    /// never logged as an unhandled exception with a stack trace.
    /// </remarks>
    public static async Task<PooledBody> ReadBodyAsync(HttpContext http, int limit, CancellationToken cancellationToken)
    {
        if (http.Request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }

        // Only a JSON type: a browser can send text/plain or form posts across origins without asking (no CORS
        // preflight), so taking any type would let a web page spend seats through a visitor's browser.
        if (!http.Request.HasJsonContentType())
        {
            throw new ProtocolException(ErrorCodes.Malformed, "Content-Type must be application/json.");
        }

        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = limit + 1L;
        }

        // One byte past the limit is room enough to tell "exactly at the limit" from "over it".
        var capacity = limit + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBufferBytes, capacity));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == Math.Min(buffer.Length, capacity))
                {
                    if (length == capacity)
                    {
                        throw TooLarge(limit);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, capacity));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    PooledBody.Return(buffer, length);
                    buffer = larger;
                }

                var read = await http.Request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, capacity) - length), cancellationToken);
                if (read == 0)
                {
                    return new PooledBody(buffer, length);
                }

                length += read;
            }
        }
        catch (Exception error)
        {
            PooledBody.Return(buffer, length);
            if (ClientFailure(error, limit) is { } refusal)
            {
                throw refusal;
            }

            throw;
        }
    }

    /// <summary>An answer with a Retry-After header (SPEC §4 rate limits).</summary>
    private sealed class WithRetryAfter(IResult inner, TimeSpan after) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var seconds = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds));
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }

    private static ProtocolException? ClientFailure(Exception error, int limit) => error switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => TooLarge(limit),
        BadHttpRequestException bad => new ProtocolException(ErrorCodes.Malformed, $"The body could not be read: {bad.Message}"),
        IOException or OperationCanceledException => new ProtocolException(ErrorCodes.Malformed, "The connection ended before the whole body arrived."),
        _ => null,
    };

    private static ProtocolException TooLarge(int limit) => new(ErrorCodes.TooLarge, $"The body is larger than {limit} bytes.");
}
