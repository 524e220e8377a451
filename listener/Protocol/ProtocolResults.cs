using Dls.Core.Protocol;
using Microsoft.AspNetCore.Http.Features;

namespace Dls.Listener.Protocol;

/// <summary>Body reading with the protocol's limits, and the <c>{errorCode, message}</c> answers.</summary>
public static class ProtocolResults
{
    public sealed record ErrorAnswer(int ErrorCode, string Message);

    /// <param name="retryAfter">For a rate-limited request: sent as the Retry-After header, in whole seconds.</param>
    public static IResult Error(ProtocolError error, TimeSpan? retryAfter = null)
    {
        var answer = Results.Json(new ErrorAnswer(error.ErrorCode, error.Message), statusCode: ErrorCodes.HttpStatus(error.ErrorCode));
        return retryAfter is { } after ? new WithRetryAfter(answer, after) : answer;
    }

    public static IResult StoreUnavailable(ILogger logger, Exception error)
    {
        logger.LogError(error, "A request could not be committed to the store");
        return Results.Json(new ErrorAnswer(503, "The store is unavailable; nothing was recorded. Retry later."), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>
    /// Reads the whole body, refusing (413) one larger than <paramref name="limit"/> before reading it when the
    /// Content-Length says so, and as soon as the count passes the limit otherwise (chunked bodies).
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext http, int limit, CancellationToken cancellationToken)
    {
        if (http.Request.ContentLength > limit)
        {
            throw TooLarge(limit);
        }

        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = limit + 1L;
        }

        var buffer = new MemoryStream(http.Request.ContentLength is { } length ? (int)length : 4096);
        var chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await http.Request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    throw TooLarge(limit);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(limit);
        }

        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
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

    private static ProtocolException TooLarge(int limit) => new(ErrorCodes.TooLarge, $"The body is larger than {limit} bytes.");
}
