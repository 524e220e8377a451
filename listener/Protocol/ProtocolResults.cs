using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
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

    // What Results.Json sent, kept so clients see the same header.
    private const string JsonContentType = "application/json; charset=utf-8";

    // The answer's bytes and their writer, per thread: ExecuteAsync serializes and copies without awaiting in between.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_answer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public sealed record ErrorAnswer(int ErrorCode, string Message);

    /// <summary>
    /// The protocol's JSON answers, written the cheap way: the generated serializer (<see cref="ListenerJsonContext"/>,
    /// first in the resolver chain of <paramref name="options"/>) writes into a buffer kept per thread, and the bytes go
    /// to the response with their Content-Length in one write. <c>Results.Json</c> serialized asynchronously through
    /// a flush and sent the few hundred bytes chunked. The options are the HTTP JSON options, as <c>Results.Json</c>
    /// used: the same names, the same escaping (ASP.NET Core's relaxed encoder), so the same body bytes.
    /// </summary>
    public sealed class JsonAnswers(JsonSerializerOptions options)
    {
        private readonly JsonWriterOptions _writerOptions = new()
        {
            Encoder = options.Encoder,
            Indented = options.WriteIndented,
            MaxDepth = options.MaxDepth == 0 ? 64 : options.MaxDepth,

            // What the serializer itself does outside debug builds: its output needs no second check.
            SkipValidation = true,
        };

        /// <summary>An answer of 200 with <paramref name="value"/> as its JSON body.</summary>
        public IResult Ok<T>(T value) => new JsonAnswer<T>(this, value, StatusCodes.Status200OK);

        /// <param name="retryAfter">For a rate-limited request: sent as the Retry-After header, in whole seconds.</param>
        public IResult Error(ProtocolError error, TimeSpan? retryAfter = null)
        {
            var answer = new JsonAnswer<ErrorAnswer>(this, new ErrorAnswer(error.ErrorCode, error.Message), ErrorCodes.HttpStatus(error.ErrorCode));
            return retryAfter is { } after ? new WithRetryAfter(answer, after) : answer;
        }

        private void Write<T>(HttpContext httpContext, T value, int statusCode)
        {
            var buffer = t_answer ??= new ArrayBufferWriter<byte>(1024);
            buffer.Clear();
            var json = t_writer;
            if (json is null || !SameOptions(json.Options, _writerOptions))
            {
                json = t_writer = new Utf8JsonWriter(buffer, _writerOptions);
            }
            else
            {
                json.Reset(buffer);
            }

            JsonSerializer.Serialize(json, value, (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T)));
            var response = httpContext.Response;
            response.StatusCode = statusCode;
            response.ContentType = JsonContentType;
            response.ContentLength = buffer.WrittenCount;

            // The PipeWriter copies the bytes now; Kestrel sends them when the request ends, with no flush of our own.
            response.BodyWriter.Write(buffer.WrittenSpan);
        }

        private static bool SameOptions(JsonWriterOptions a, JsonWriterOptions b) =>
            a.Encoder == b.Encoder && a.Indented == b.Indented && a.MaxDepth == b.MaxDepth && a.SkipValidation == b.SkipValidation;

        private sealed class JsonAnswer<T>(JsonAnswers answers, T value, int statusCode) : IResult
        {
            public Task ExecuteAsync(HttpContext httpContext)
            {
                answers.Write(httpContext, value, statusCode);
                return Task.CompletedTask;
            }
        }
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
