using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HdrHistogram;

namespace Dls.Bench;

/// <summary>The outcome of one timed (or warm-up) run against one target.</summary>
public sealed record Run(double Seconds, Tally Tally, LongHistogram? Latency, double ClientCpuSeconds)
{
    public double RequestsPerSecond => Tally.Responses / Seconds;
}

/// <summary>
/// A lean HTTP/1.1 client: N keep-alive connections over raw sockets, each an async loop with one request in flight,
/// sending a pre-serialized request whose varying fields are patched in place. Latency is recorded in microseconds
/// into a histogram per connection (no sharing, no locks), merged when the run ends. With several addresses (one
/// target made of several processes), connection i goes to address i mod their number: an even split.
/// </summary>
public sealed class LoadGenerator(int connections)
{
    /// <summary>Latencies up to a minute are recorded at 3 significant digits; longer ones are clamped.</summary>
    private const long MaxMicroseconds = 60_000_000;

    /// <param name="measure">False for a warm-up: answers are still tallied (the store counts them), latencies are not.</param>
    public async Task<Run> RunAsync(IReadOnlyList<IPEndPoint> endpoints, Workload workload, TimeSpan duration, bool measure)
    {
        var templates = endpoints.Select(e => workload.TemplateFor(e.ToString())).ToList();
        // Connect every connection before the clock starts: the run measures requests, not handshakes.
        var workers = await Task.WhenAll(Enumerable.Range(0, connections)
            .Select(i => Connection.OpenAsync(endpoints[i % endpoints.Count], templates[i % endpoints.Count], workload, measure)));
        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        var deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(workers.Select(w => Task.Run(() => w.RunAsync(deadline))));
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var clientCpu = (Environment.CpuUsage.TotalTime - cpu).TotalSeconds;

        var tally = new Tally();
        var latency = measure ? NewHistogram() : null;
        foreach (var worker in workers)
        {
            tally.Add(worker.Tally);
            if (worker.Latency is not null)
            {
                latency!.Add(worker.Latency);
            }

            worker.Dispose();
        }

        return new Run(seconds, tally, latency, clientCpu);
    }

    public static LongHistogram NewHistogram() => new(MaxMicroseconds, 3);

    private sealed class Connection : IDisposable
    {
        private readonly IPEndPoint _endpoint;
        private readonly RequestTemplate _template;
        private readonly Workload _workload;
        private readonly byte[] _request;
        private Socket _socket;
        private ResponseReader _reader;

        private Connection(IPEndPoint endpoint, RequestTemplate template, Workload workload, Socket socket, bool measure)
        {
            _endpoint = endpoint;
            _template = template;
            _workload = workload;
            _request = template.NewRequest();
            _socket = socket;
            _reader = new ResponseReader(socket);
            Latency = measure ? NewHistogram() : null;
        }

        public Tally Tally { get; } = new();

        public LongHistogram? Latency { get; }

        public static async Task<Connection> OpenAsync(IPEndPoint endpoint, RequestTemplate template, Workload workload, bool measure) =>
            new(endpoint, template, workload, await ConnectAsync(endpoint), measure);

        public async Task RunAsync(long deadline)
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                _workload.Next(_template, _request);
                var sent = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    await SendAsync();
                    status = await _reader.ReadAsync();
                }
                catch (Exception error) when (error is IOException or SocketException)
                {
                    // The request may or may not have been served; it is counted as failed, and the run goes on.
                    Tally.Fail();
                    await ReconnectAsync(deadline);
                    continue;
                }

                var microseconds = (Stopwatch.GetTimestamp() - sent) * 1_000_000 / Stopwatch.Frequency;
                Latency?.RecordValue(Math.Min(microseconds, MaxMicroseconds));
                Tally.Answer(status, _workload.IsReport, _reader.Body);
                if (_reader.Closing)
                {
                    await ReconnectAsync(deadline);
                }
            }
        }

        public void Dispose() => _socket.Dispose();

        private static async Task<Socket> ConnectAsync(IPEndPoint endpoint)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(endpoint);
            return socket;
        }

        private async Task SendAsync()
        {
            var remaining = _request.AsMemory();
            while (!remaining.IsEmpty)
            {
                remaining = remaining[await _socket.SendAsync(remaining, SocketFlags.None)..];
            }
        }

        /// <summary>A new connection, tried until the run's deadline (a dead server ends the run on time).</summary>
        private async Task ReconnectAsync(long deadline)
        {
            _socket.Dispose();
            while (Stopwatch.GetTimestamp() < deadline)
            {
                try
                {
                    _socket = await ConnectAsync(_endpoint);
                    _reader = new ResponseReader(_socket);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(10);
                }
            }
        }
    }
}
