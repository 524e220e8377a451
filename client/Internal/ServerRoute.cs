using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace Dls.Client.Internal;

/// <summary>An answer with a status a client acts on: 2xx, or a 4xx refusal (never 100, 5xx or a lost connection).</summary>
internal sealed class ServerAnswer
{
    public ServerAnswer(int status, byte[] body, Uri server, int? retryAfterSeconds, DateTimeOffset? serverDate)
    {
        Status = status;
        Body = body;
        Server = server;
        RetryAfterSeconds = retryAfterSeconds;
        ServerDate = serverDate;
    }

    public int Status { get; }

    public byte[] Body { get; }

    public Uri Server { get; }

    public int? RetryAfterSeconds { get; }

    /// <summary>The server's clock (its Date header, to the second), by which the client keeps its slices in step with the server's.</summary>
    public DateTimeOffset? ServerDate { get; }

    public bool IsSuccess => Status >= 200 && Status < 300;
}

/// <summary>No server answered: each was unreachable, timed out, failed (5xx) or was a standby deferring to its main.</summary>
internal sealed class ServerUnreachableException : Exception
{
    public ServerUnreachableException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// Where requests go (docs/client.md, "Failover"): the main server first; on a connection failure, a timeout, a 5xx or
/// errorCode 100 the standby. A main that failed is skipped for a jittered back-off (doubling from
/// <see cref="DlsClientOptions.MinBackoff"/> to <see cref="DlsClientOptions.MaxBackoff"/>) and then tried first again,
/// so the client returns to it once it is back; a standby that answers 100 ("the main is up") sends the client to the
/// main at once.
/// </summary>
internal sealed class ServerRoute : IDisposable
{
    private readonly Uri _main;
    private readonly Uri? _standby;
    private readonly DlsClientOptions _options;
    private readonly HttpClient _http;
    private readonly Action<Uri> _serverChanged;
    private readonly Random _jitter = new();
    private readonly object _gate = new();
    private int _mainFailures;
    private DateTimeOffset _mainRetryAt = DateTimeOffset.MinValue;
    private Uri? _current;

    public ServerRoute(DlsLicenseKey key, DlsClientOptions options, Action<Uri> serverChanged)
    {
        _main = key.MainServer;
        _standby = key.StandbyServer is not null && key.StandbyServer != key.MainServer ? key.StandbyServer : null;
        _options = options;
        _serverChanged = serverChanged;
        _http = options.HttpHandler is null ? new HttpClient() : new HttpClient(options.HttpHandler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan;

        // The listener's answers are a few hundred bytes; whatever sends more is not one, and is not read whole.
        _http.MaxResponseContentBufferSize = MaxAnswerBytes;
    }

    /// <summary>The server that answered last (null before any answer).</summary>
    public Uri? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public async Task<ServerAnswer> PostAsync(string path, byte[] body, CancellationToken cancellationToken)
    {
        bool mainFirst;
        lock (_gate)
        {
            mainFirst = _standby is null || _options.TimeProvider.GetUtcNow() >= _mainRetryAt;
        }

        var order = new List<Uri> { mainFirst ? _main : _standby!, };
        if (_standby is not null)
        {
            order.Add(mainFirst ? _standby : _main);
        }

        var problems = new List<string>();
        Exception? lastError = null;
        var standbyDeferred = false;
        foreach (var server in order)
        {
            if (server == _main && !mainFirst && !standbyDeferred)
            {
                problems.Add($"{server} skipped (it failed; tried again after a back-off)");
                continue;
            }

            var (answer, problem, error) = await SendAsync(server, path, body, cancellationToken).ConfigureAwait(false);
            if (answer is not null)
            {
                Served(server);
                return answer;
            }

            problems.Add($"{server}: {problem}");
            lastError = error ?? lastError;
            if (server == _main)
            {
                MainFailed();
            }
            else if (problem == Deferred)
            {
                standbyDeferred = true;
            }
        }

        throw new ServerUnreachableException("No DLS server answered: " + string.Join("; ", problems) + ".", lastError);
    }

    public void Dispose() => _http.Dispose();

    private const string Deferred = "a standby server deferring to its main (errorCode 100)";

    private const int MaxAnswerBytes = 1024 * 1024;

    private async Task<(ServerAnswer? Answer, string Problem, Exception? Error)> SendAsync(Uri server, string path, byte[] body, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            using var response = await _http.PostAsync(new Uri(server, path), content, timeout.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                var (code, message) = Wire.ReadError(status, bytes);
                return (null, code == 100 ? Deferred : $"HTTP {status}: {message}", null);
            }

            if ((status >= 200 && status < 300 && !IsJson(bytes)) || (status >= 300 && !Wire.IsError(bytes)))
            {
                // Something answered that is not a DLS listener (a captive portal, a proxy's page): not a server, and
                // not a refusal that could cost the client its cached authorization or a batch.
                return (null, $"HTTP {status} without a DLS answer", null);
            }

            int? retryAfter = response.Headers.RetryAfter?.Delta is TimeSpan delta ? (int)Math.Ceiling(delta.TotalSeconds) : null;
            return (new ServerAnswer(status, bytes, server, retryAfter, response.Headers.Date), string.Empty, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {_options.RequestTimeout.TotalSeconds:0.#} s", null);
        }
        catch (HttpRequestException error)
        {
            return (null, error.InnerException?.Message ?? error.Message, error);
        }
        catch (IOException error)
        {
            // The connection broke while the answer was read.
            return (null, error.Message, error);
        }
    }

    private static bool IsJson(byte[] body) => body.Length > 0 && body[0] == (byte)'{';

    private void Served(Uri server)
    {
        bool changed;
        lock (_gate)
        {
            if (server == _main)
            {
                _mainFailures = 0;
                _mainRetryAt = DateTimeOffset.MinValue;
            }

            changed = _current != server;
            _current = server;
        }

        if (changed)
        {
            _serverChanged(server);
        }
    }

    private void MainFailed()
    {
        lock (_gate)
        {
            _mainFailures = Math.Min(_mainFailures + 1, 30);
            var backoff = Math.Min(_options.MaxBackoff.TotalMilliseconds, _options.MinBackoff.TotalMilliseconds * Math.Pow(2, _mainFailures - 1));
            var jittered = backoff * (0.5 + (_jitter.NextDouble() * 0.5));
            _mainRetryAt = _options.TimeProvider.GetUtcNow() + TimeSpan.FromMilliseconds(jittered);
        }
    }
}
